{{/*
Naming and labels in the style of tempo-distributed's _helpers.tpl.
*/}}

{{/* Chart name, 63 characters at most. */}}
{{- define "tempo-compactor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: fullnameOverride, or the release name if it contains the chart name, or <release>-<name>. */}}
{{- define "tempo-compactor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>; call with (dict "ctx" . "component" "controller"). */}}
{{- define "tempo-compactor.resourceName" -}}
{{- printf "%s-%s" (include "tempo-compactor.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tempo-compactor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels (immutable: never chart or version). (dict "ctx" . "component" "x") */}}
{{- define "tempo-compactor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tempo-compactor.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* Labels of every object. (dict "ctx" . "component" "x") */}}
{{- define "tempo-compactor.labels" -}}
helm.sh/chart: {{ include "tempo-compactor.chart" .ctx }}
{{ include "tempo-compactor.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image reference: (dict "ctx" . "image" <component image> "fallback" <base image or nil>). */}}
{{- define "tempo-compactor.imageReference" -}}
{{- $base := .fallback | default dict }}
{{- $registry := coalesce .ctx.Values.global.registry .image.registry $base.registry -}}
{{- $repository := coalesce .image.repository $base.repository -}}
{{- $tag := coalesce .image.tag $base.tag .ctx.Chart.AppVersion | toString -}}
{{- if $registry }}{{ $registry }}/{{ end }}{{ $repository }}:{{ $tag }}
{{- end }}

{{- define "tempo-compactor.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "tempo-compactor.resourceName" (dict "ctx" . "component" "controller")) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tempo-compactor.leaseName" -}}
{{- default (include "tempo-compactor.resourceName" (dict "ctx" . "component" "controller")) .Values.controller.leaderElection.leaseName }}
{{- end }}

{{/* Name of the TempoCompactor: compactor.name (validated), else the release name cut to
the controller's 47-character limit (children are named tempo-<name>-compactor). */}}
{{- define "tempo-compactor.crName" -}}
{{- if .Values.compactor.name }}
{{- .Values.compactor.name }}
{{- else }}
{{- .Release.Name | replace "." "-" | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Threshold values as strings: "250" and 250 both give "250". */}}
{{- define "tempo-compactor.numericString" -}}
{{- if kindIs "float64" . }}{{ . | float64 | toString }}{{ else }}{{ . | toString }}{{ end }}
{{- end }}

{{/*
RBAC rules of the controller. Least privilege: it reads TempoCompactors and writes only
their status; it server-side-applies and prunes the children it owns; it never reads
Secrets (KEDA resolves authSecretRef through the TriggerAuthentication).
*/}}
{{- define "tempo-compactor.controller.rules" -}}
- apiGroups: [compactor.tempo.dev]
  resources: [tempocompactors]
  verbs: [get, list, watch]
- apiGroups: [compactor.tempo.dev]
  resources: [tempocompactors/status]
  verbs: [get, patch, update]
# ownerReferences with blockOwnerDeletion need update on the owner's finalizers
- apiGroups: [compactor.tempo.dev]
  resources: [tempocompactors/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
{{- if and .Values.compactor.autoscaling.enabled (eq (.Values.compactor.autoscaling.mode | default "keda") "builtin") }}
# autoscaling.mode builtin: the leader sets the replicas through /scale
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, patch]
{{- end }}
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects, triggerauthentications]
  verbs: [get, list, watch, create, patch, delete]
# status.outstandingBlocks: list the compactor pods to scrape their /metrics
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
# status.desiredReplicas: KEDA's HPA keda-hpa-<scaledobject>
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- $auth := .Values.compactor.autoscaling.prometheus.authSecretRef }}
{{- if and .Values.compactor.enabled .Values.compactor.autoscaling.enabled $auth $auth.name }}
# The leader runs the trigger query itself, with the credentials KEDA sends:
# get on that one Secret, nothing else
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [{{ $auth.name | quote }}]
  verbs: [get]
{{- end }}
{{- end }}
