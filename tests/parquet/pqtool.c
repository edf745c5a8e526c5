/* pqtool.c - a standalone driver for the parquet CLI, so script tests do not
 * depend on how compactor/main.c dispatches subcommands. */
int parquet_cli_main(int argc, char **argv);

int
main(int argc, char **argv)
{
    /* argv[0] of parquet_cli_main is "parquet" */
    argv[0] = "parquet";
    return parquet_cli_main(argc, argv);
}
