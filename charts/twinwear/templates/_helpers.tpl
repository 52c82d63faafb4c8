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

{{/* The image of a component. Arg: dict "root" $ "kind" ("service" | "render"). */}}
{{- define "twinwear.image" -}}
{{- $image := ternary .root.Values.renderImage .root.Values.image (eq .kind "render") }}
{{- printf "%s:%s" $image.repository ($image.tag | default .root.Chart.AppVersion | toString) }}
{{- end }}

{{- define "twinwear.apiTokenSecretName" -}}
{{- .Values.apiToken.existingSecret | default (printf "%s-api-token" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.pimWebhooksSecretName" -}}
{{- .Values.pimWebhooks.existingSecret | default (printf "%s-pim-webhooks" (include "twinwear.fullname" .)) }}
{{- end }}

{{/* Environment variable -> key of the pimWebhooks Secret: the webhooks' secrets. */}}
{{- define "twinwear.pimWebhooksSecretKeys" -}}
TWINWEAR_AKENEO_SECRET: akeneoSecret
TWINWEAR_AKENEO_EP_SECRETS: akeneoEpSecrets
TWINWEAR_SHOPIFY_SECRET: shopifySecret
{{- end }}

{{/* Environment variable -> key of the pimWebhooks Secret: Akeneo's REST API credentials. */}}
{{- define "twinwear.akeneoApiSecretKeys" -}}
TWINWEAR_AKENEO_API_CLIENT_ID: akeneoApiClientId
TWINWEAR_AKENEO_API_SECRET: akeneoApiSecret
TWINWEAR_AKENEO_API_USERNAME: akeneoApiUsername
TWINWEAR_AKENEO_API_PASSWORD: akeneoApiPassword
{{- end }}

{{- define "twinwear.minioSecretName" -}}
{{- .Values.minio.existingSecret | default (printf "%s-minio" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.adminTokensSecretName" -}}
{{- .Values.adminTokens.existingSecret | default (printf "%s-admin-tokens" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.c2paSecretName" -}}
{{- .Values.c2pa.existingSecret | default (printf "%s-c2pa" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.campaignPolicyConfigMapName" -}}
{{- .Values.campaignPolicy.existingConfigMap | default (printf "%s-campaign-policy" (include "twinwear.fullname" .)) }}
{{- end }}

{{- define "twinwear.pimMappingConfigMapName" -}}
{{- .Values.pimMapping.existingConfigMap | default (printf "%s-pim-mapping" (include "twinwear.fullname" .)) }}
{{- end }}

{{/* gRPC address of Triton for the render service: the chart's own, else triton.grpc. */}}
{{- define "twinwear.tritonGrpc" -}}
{{- if .Values.triton.enabled }}
{{- printf "%s:%v" (include "twinwear.componentFullname" (dict "root" . "component" "triton")) .Values.triton.ports.grpc }}
{{- else }}
{{- required "triton.grpc is required when triton.enabled is false" .Values.triton.grpc }}
{{- end }}
{{- end }}

{{- define "twinwear.annyCacheDir" -}}
/var/cache/anny
{{- end }}

{{/* The anny cache volume. Arg: $ (root). */}}
{{- define "twinwear.annyCacheVolume" -}}
- name: anny-cache
  {{- if .Values.anny.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.anny.existingClaim }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.anny.sizeLimit }}
  {{- end }}
{{- end }}

{{/* Init container that builds anny's cache in the anny-cache volume before the main container
starts. Arg: $ (root). */}}
{{- define "twinwear.annyCacheInitContainer" -}}
- name: warm-anny-cache
  image: {{ include "twinwear.image" (dict "root" . "kind" "render") | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["twinwear_body.warm_cache"]
  env:
    - name: ANNY_CACHE_DIR
      value: {{ include "twinwear.annyCacheDir" . }}
  {{- with .Values.anny.warmResources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: anny-cache
      mountPath: {{ include "twinwear.annyCacheDir" . }}
{{- end }}
