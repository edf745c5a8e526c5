/* test_sigv4.c - SigV4 against AWS's published S3 example (GET with Range). */
#include "backend/sigv4.h"
#include "base/tc.h"
#include "test.h"

TEST(aws_s3_get_object_example)
{
    /* docs.aws.amazon.com AmazonS3 sig-v4-header-based-auth, "GET Object". */
    struct sigv4_key k = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                          "us-east-1", "s3"};
    char empty[65];
    struct http_header h[4];
    struct buf out;

    sigv4_sha256_hex("", 0, empty);
    ASSERT_STR_EQ(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    h[0] = (struct http_header){"host", "examplebucket.s3.amazonaws.com"};
    h[1] = (struct http_header){"range", "bytes=0-9"};
    h[2] = (struct http_header){"x-amz-content-sha256", empty};
    h[3] = (struct http_header){"x-amz-date", "20130524T000000Z"};
    buf_init(&out, 0);
    ASSERT_OK(sigv4_authorization(&k, "GET", "/test.txt", "", h, 4, empty, &out));
    ASSERT_STR_EQ(out.data, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
                            "s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
                            "x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170a"
                            "ba48dd91039c6036bdb41");
    buf_cleanup(&out);
}

TEST(aws_s3_list_objects_example)
{
    struct sigv4_key k = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                          "us-east-1", "s3"};
    char empty[65], date[17];
    struct http_header h[3];
    struct buf out;

    sigv4_amz_date(1369353600, date);
    ASSERT_STR_EQ(date, "20130524T000000Z");
    sigv4_sha256_hex("", 0, empty);
    h[0] = (struct http_header){"host", "examplebucket.s3.amazonaws.com"};
    h[1] = (struct http_header){"x-amz-content-sha256", empty};
    h[2] = (struct http_header){"x-amz-date", date};
    buf_init(&out, 0);
    ASSERT_OK(sigv4_authorization(&k, "GET", "/", "max-keys=2&prefix=J", h, 3, empty, &out));
    ASSERT_STR_CONTAINS(out.data, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5"
                                  "711ef69dc6f7");
    buf_cleanup(&out);
}

TEST_MAIN(TEST_ENTRY(aws_s3_get_object_example), TEST_ENTRY(aws_s3_list_objects_example))
