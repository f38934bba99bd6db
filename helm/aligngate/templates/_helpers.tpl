{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "aligngate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; suffixes (-vllm, -redis) stay within 63 characters. */}}
{{- define "aligngate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aligngate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "aligngate.labels" -}}
helm.sh/chart: {{ include "aligngate.chart" . }}
app.kubernetes.io/name: {{ include "aligngate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aligngate
{{- end }}

{{/* Selector labels of one component (gateway, vllm, redis); call with (list . "gateway"). */}}
{{- define "aligngate.selectorLabels" -}}
{{- $root := index . 0 }}
app.kubernetes.io/name: {{ include "aligngate.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "aligngate.gatewayName" -}}
{{ include "aligngate.fullname" . }}
{{- end }}

{{- define "aligngate.vllmName" -}}
{{ include "aligngate.fullname" . }}-vllm
{{- end }}

{{- define "aligngate.redisName" -}}
{{ include "aligngate.fullname" . }}-redis
{{- end }}

{{- define "aligngate.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create }}
{{- default (include "aligngate.fullname" .) .Values.gateway.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.gateway.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image: repository:tag, the tag defaulting to the chart's appVersion, and @digest when given. */}}
{{- define "aligngate.image" -}}
{{- $image := index . 0 }}
{{- $root := index . 1 }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- with $image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/* In-cluster URL of the bundled vLLM's OpenAI API. */}}
{{- define "aligngate.vllmURL" -}}
{{- printf "http://%s.%s.svc.cluster.local:%d/v1" (include "aligngate.vllmName" .) .Release.Namespace (int .Values.vllm.port) }}
{{- end }}

{{/*
The "small" engine that runs the BPO and Aligner models, from smallModels.mode.
The remote engine sends a stage's adapter name as the request's model, so the
vLLM --lora-modules names and the stages' adapter names must agree.
*/}}
{{- define "aligngate.smallEngine" -}}
{{- $mode := .Values.smallModels.mode }}
{{- if eq $mode "embedded" }}
{{- $e := .Values.smallModels.embedded }}
kind: transformers
model: {{ $e.model | quote }}
{{- with $e.adapters }}
adapters:
  {{- toYaml . | nindent 2 }}
{{- end }}
max_batch_size: {{ $e.maxBatchSize | default 16 }}
batch_wait_ms: {{ $e.batchWaitMs | default 5 }}
{{- with $e.threads }}
threads: {{ . }}
{{- end }}
{{- else if eq $mode "vllm" }}
kind: remote
api_base: {{ include "aligngate.vllmURL" . | quote }}
model: {{ .Values.vllm.servedModelName | quote }}
{{- if .Values.vllm.apiKeySecret.name }}
api_key_env: VLLM_API_KEY
{{- end }}
timeout_s: 60
{{- else }}
{{- $e := .Values.smallModels.external }}
kind: remote
api_base: {{ $e.apiBase | quote }}
model: {{ $e.model | quote }}
{{- with $e.apiKeyEnv }}
api_key_env: {{ . }}
{{- end }}
timeout_s: {{ $e.timeoutSeconds | default 60 }}
{{- end }}
{{- end }}

{{/* The whole gateway config file: the user's gatewayConfig plus engines.small. */}}
{{- define "aligngate.gatewayConfig" -}}
{{- $config := deepCopy .Values.gatewayConfig }}
{{- $engines := deepCopy (default dict $config.engines) }}
{{- $_ := set $engines "small" (include "aligngate.smallEngine" . | fromYaml) }}
{{- $_ := set $config "engines" $engines }}
{{- toYaml $config }}
{{- end }}

{{/* Whether the gateway gets a Redis URL, and from where. */}}
{{- define "aligngate.redisEnv" -}}
{{- if .Values.redis.enabled }}
- name: ALIGNGATE_REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "aligngate.redisName" .) | quote }}
{{- else if .Values.redis.existingSecret }}
- name: ALIGNGATE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.secretKey }}
{{- else if .Values.redis.url }}
- name: ALIGNGATE_REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end }}

{{/* A restricted-profile container securityContext; the uid comes from the pod's. */}}
{{- define "aligngate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The gateway container's environment: admin key, Redis URL, API keys from Secrets. */}}
{{- define "aligngate.gatewayEnv" -}}
{{- if .Values.admin.existingSecret }}
- name: ALIGNGATE_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.admin.existingSecret }}
      key: {{ .Values.admin.secretKey }}
{{- end }}
{{- with .Values.metrics.existingSecret }}
- name: ALIGNGATE_METRICS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.metrics.secretKey }}
{{- end }}
{{- include "aligngate.redisEnv" . }}
# Without Redis the tenant store is SQLite; the relative default path would land
# on the read-only root filesystem.
- name: ALIGNGATE_SQLITE_PATH
  value: /var/lib/aligngate/state.db
{{- if and (eq .Values.smallModels.mode "vllm") .Values.vllm.apiKeySecret.name }}
- name: VLLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.vllm.apiKeySecret.name }}
      key: {{ .Values.vllm.apiKeySecret.key }}
{{- end }}
{{- range $.Values.gateway.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- range $.Values.gateway.extraEnv }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- end }}
{{- end }}

{{/*
A preStop pause of a component's values (preStopSleepSeconds), so Services stop
routing to the pod before it is told to stop; call with (list $values "gateway").
*/}}
{{- define "aligngate.preStop" -}}
{{- $v := index . 0 }}
{{- $sleep := int (default 0 $v.preStopSleepSeconds) }}
{{- if ge $sleep (int $v.terminationGracePeriodSeconds) }}
{{- fail (printf "%s.preStopSleepSeconds (%d) must be shorter than its terminationGracePeriodSeconds (%d)" (index . 1) $sleep (int $v.terminationGracePeriodSeconds)) }}
{{- end }}
{{- if gt $sleep 0 }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", {{ $sleep | quote }}]
{{- end }}
{{- end }}
