{{/* Chart name, overridable. */}}
{{- define "twinwear.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone if it already contains the chart name. */}}
{{- define "twinwear.fullname" -}}
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

{{- define "twinwear.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* DNS-safe component name from a services.<key> (twin_builder -> twin-builder). */}}
{{- define "twinwear.component" -}}
{{- . | replace "_" "-" }}
{{- end }}

{{/* Per-component resource name. Arg: dict "root" $ "component" <name>. */}}
{{- define "twinwear.componentFullname" -}}
{{- printf "%s-%s" (include "twinwear.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Arg: dict "root" $ ["component" <name>]. */}}
{{- define "twinwear.selectorLabels" -}}
app.kubernetes.io/name: {{ include "twinwear.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Arg: dict "root" $ ["component" <name>]. */}}
{{- define "twinwear.labels" -}}
helm.sh/chart: {{ include "twinwear.chart" .root }}
{{ include "twinwear.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: twinwear
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "twinwear.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{- define "twinwear.apiTokenSecretName" -}}
{{- .Values.apiToken.existingSecret | default (printf "%s-api-token" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.pimWebhooksSecretName" -}}
{{- .Values.pimWebhooks.existingSecret | default (printf "%s-pim-webhooks" (include "twinwear.fullname" .)) }}
{{- end }}

{{/* Environment variable -> key of the pimWebhooks Secret. */}}
{{- define "twinwear.pimWebhooksSecretKeys" -}}
TWINWEAR_AKENEO_SECRET: akeneoSecret
TWINWEAR_AKENEO_EP_SECRETS: akeneoEpSecrets
TWINWEAR_SHOPIFY_SECRET: shopifySecret
TWINWEAR_AKENEO_API_CLIENT_ID: akeneoApiClientId
TWINWEAR_AKENEO_API_SECRET: akeneoApiSecret
TWINWEAR_AKENEO_API_USERNAME: akeneoApiUsername
TWINWEAR_AKENEO_API_PASSWORD: akeneoApiPassword
{{- end }}

{{- define "twinwear.minioSecretName" -}}
{{- .Values.minio.existingSecret | default (printf "%s-minio" (include "twinwear.fullname" .)) }}
{{- end }}
