{{- define "infergate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "infergate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "infergate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "infergate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "infergate.labels" -}}
{{ include "infergate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "infergate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "infergate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* gateway.yaml, also hashed into a pod annotation so a config change rolls the pods. */}}
{{- define "infergate.config" -}}
listen: 0.0.0.0:8080
admin: 0.0.0.0:9090
workers: {{ .Values.config.workers }}
timeouts:
  drain: {{ .Values.config.drain }}
{{- if .Values.kubernetes.enabled }}
kubernetes:
  gateway:
    name: {{ .Values.gateway.name | quote }}
    namespace: {{ default .Release.Namespace .Values.gateway.namespace | quote }}
  {{- with .Values.kubernetes.namespaces }}
  namespaces:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  probe_models: {{ .Values.kubernetes.probeModels }}
  resync: {{ .Values.kubernetes.resync }}
  crd_recheck: {{ .Values.kubernetes.crdRecheck }}
{{- end }}
{{- if .Values.auth.keysSecret }}
auth:
  keys_dir: /etc/infergate-keys
{{- end }}
{{- if .Values.limits.store }}
limits:
  store: {{ .Values.limits.store | quote }}
  on_store_error: {{ .Values.limits.onStoreError }}
{{- end }}
{{- with .Values.config.extra }}
{{ . }}
{{- end }}
{{- end -}}
