{{/*
Impossible or unsupported combinations fail here with a message naming the value.
values.schema.json checks types and shapes first.
*/}}
{{- define "tempo-compactor.validate" -}}
{{- $c := .Values.compactor }}
{{- $as := $c.autoscaling }}
{{- $keda := $as.keda | default dict }}
{{- $p := $as.prometheus | default dict }}
{{- $tr := .Values.storage.trace }}
{{- $num := "^[0-9]+(\\.[0-9]+)?$" }}
{{- if $as.hpa }}{{ if $as.hpa.enabled }}
{{- fail "compactor.autoscaling.hpa: HPA-based autoscaling is not supported; this chart scales the compactor with KEDA on outstanding blocks (set compactor.autoscaling.enabled and compactor.autoscaling.prometheus, see MIGRATION.md)" }}
{{- end }}{{ end }}
{{- if $keda.triggers }}
{{- fail "compactor.autoscaling.keda.triggers: not supported; move the trigger's metadata to compactor.autoscaling.prometheus.{serverAddress,query,threshold,customHeaders} (see MIGRATION.md)" }}
{{- end }}
{{- if and $as.enabled (hasKey $keda "enabled") (not $keda.enabled) }}
{{- fail "compactor.autoscaling.keda.enabled=false contradicts compactor.autoscaling.enabled=true: KEDA is the only autoscaler here (remove keda.enabled, or disable autoscaling)" }}
{{- end }}
{{- if gt (int64 $as.minReplicas) (int64 $as.maxReplicas) }}
{{- fail (printf "compactor.autoscaling.minReplicas (%v) must be <= compactor.autoscaling.maxReplicas (%v)" $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- if $as.enabled }}
{{- if not $p.serverAddress }}
{{- fail "compactor.autoscaling.prometheus.serverAddress is required when compactor.autoscaling.enabled is true (the Prometheus API root, e.g. http://mimir-nginx.mimir.svc/prometheus)" }}
{{- end }}
{{- if not (regexMatch "^https?://[^\\s]+$" $p.serverAddress) }}
{{- fail (printf "compactor.autoscaling.prometheus.serverAddress %q must start with http:// or https:// and contain no spaces" $p.serverAddress) }}
{{- end }}
{{- $th := include "tempo-compactor.numericString" $p.threshold }}
{{- if not (regexMatch $num $th) }}
{{- fail (printf "compactor.autoscaling.prometheus.threshold %q must be a non-negative decimal number such as \"250\"" $th) }}
{{- end }}
{{- if not (kindIs "invalid" $p.activationThreshold) }}
{{- $at := include "tempo-compactor.numericString" $p.activationThreshold }}
{{- if and (ne $at "") (not (regexMatch $num $at)) }}
{{- fail (printf "compactor.autoscaling.prometheus.activationThreshold %q must be a non-negative decimal number such as \"10\"" $at) }}
{{- end }}
{{- end }}
{{- if kindIs "string" $p.customHeaders }}
{{- fail (printf "compactor.autoscaling.prometheus.customHeaders is a map in this chart: write customHeaders: {X-Scope-OrgID: tenant-a} instead of %q (see MIGRATION.md)" $p.customHeaders) }}
{{- end }}
{{- range $k, $v := $p.customHeaders }}
{{- if not (regexMatch "^[A-Za-z0-9-]+$" $k) }}
{{- fail (printf "compactor.autoscaling.prometheus.customHeaders: header name %q may contain only letters, digits and '-'" $k) }}
{{- end }}
{{- if regexMatch "[,=]" (toString $v) }}
{{- fail (printf "compactor.autoscaling.prometheus.customHeaders.%s: value %q may not contain ',' or '=' (KEDA splits customHeaders on them); put secrets in authSecretRef" $k (toString $v)) }}
{{- end }}
{{- end }}
{{- with $p.authSecretRef }}
{{- if not .name }}
{{- fail "compactor.autoscaling.prometheus.authSecretRef.name is required when authSecretRef is set" }}
{{- end }}
{{- if not .authModes }}
{{- fail "compactor.autoscaling.prometheus.authSecretRef.authModes is required (bearer, basic, tls or custom)" }}
{{- end }}
{{- if gt (len (without .authModes "tls")) 1 }}
{{- fail "compactor.autoscaling.prometheus.authSecretRef.authModes: basic, bearer and custom are mutually exclusive (only tls combines with one of them)" }}
{{- end }}
{{- end }}
{{- if and $keda.fallback (ne ($keda.metricType | default "AverageValue") "AverageValue") }}
{{- fail "compactor.autoscaling.keda.fallback needs compactor.autoscaling.keda.metricType AverageValue (a KEDA rule)" }}
{{- end }}
{{- end }}
{{- with $keda.advanced }}
{{- $extra := without (keys .) "horizontalPodAutoscalerConfig" }}
{{- if $extra }}
{{- fail (printf "compactor.autoscaling.keda.advanced: only horizontalPodAutoscalerConfig.behavior is supported, not %s" (sortAlpha $extra | join ", ")) }}
{{- end }}
{{- with .horizontalPodAutoscalerConfig }}
{{- $extra := without (keys .) "behavior" }}
{{- if $extra }}
{{- fail (printf "compactor.autoscaling.keda.advanced.horizontalPodAutoscalerConfig: only behavior is supported, not %s (the HPA name is keda-hpa-<scaledobject>)" (sortAlpha $extra | join ", ")) }}
{{- end }}
{{- end }}
{{- end }}
{{- if ne $tr.backend "s3" }}
{{- fail (printf "storage.trace.backend %q is not supported: the tempo-compactor daemon reads and writes blocks in S3 (or an S3-compatible store such as Ceph RGW or MinIO) only; set storage.trace.backend to s3" $tr.backend) }}
{{- end }}
{{- if eq $tr.backend "s3" }}
{{- if or (not $tr.s3.bucket) (not $tr.s3.endpoint) }}
{{- fail "storage.trace.s3.bucket and storage.trace.s3.endpoint are required when storage.trace.backend is s3" }}
{{- end }}
{{- if or $tr.s3.access_key $tr.s3.secret_key }}
{{- fail "storage.trace.s3.access_key/secret_key: do not put credentials in values; create a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and set storage.trace.credentialsSecretRef.name" }}
{{- end }}
{{- end }}
{{- with .Values.tempo }}
{{- fail "tempo.image: the compactor pods run this chart's tempo-compactor daemon, not Grafana Tempo; set compactor.image (registry, repository, tag, pullPolicy, pullSecrets) instead (see MIGRATION.md)" }}
{{- end }}
{{- $cr := include "tempo-compactor.crName" . }}
{{- if or (gt (len $cr) 47) (not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $cr)) }}
{{- fail (printf "TempoCompactor name %q (compactor.name, else the release name) must be a DNS label starting with a letter, at most 47 characters: children are named tempo-<name>-compactor; set compactor.name" $cr) }}
{{- end }}
{{- end }}
