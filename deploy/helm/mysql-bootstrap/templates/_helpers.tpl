{{/*
The app.kubernetes.io/name label.
*/}}
{{- define "mysql-bootstrap.name" -}}
{{- default "mysql" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The StatefulSet's name, which every other name derives from: the release
name, unless fullnameOverride or nameOverride say otherwise. At most 52
characters: the StatefulSet controller labels each revision
<name>-<10-character hash>, and labels end at 63.
*/}}
{{- define "mysql-bootstrap.fullname" -}}
{{- $name := .Release.Name -}}
{{- if .Values.fullnameOverride -}}
{{- $name = .Values.fullnameOverride -}}
{{- else if .Values.nameOverride -}}
{{- if not (contains .Values.nameOverride .Release.Name) -}}
{{- $name = printf "%s-%s" .Release.Name .Values.nameOverride -}}
{{- end -}}
{{- end -}}
{{- if gt (len $name) 52 -}}
{{- fail (printf "the StatefulSet's name %q is longer than 52 characters: choose a shorter release name or fullnameOverride" $name) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $name) -}}
{{- fail (printf "the StatefulSet's name %q is not a DNS label (lower-case letters, digits and '-', starting with a letter): the Services are named after it" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/*
Selector labels: name and instance. The instance is the StatefulSet's name,
unique in the namespace, so two releases never select each other's pods.
*/}}
{{- define "mysql-bootstrap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mysql-bootstrap.name" . }}
app.kubernetes.io/instance: {{ include "mysql-bootstrap.fullname" . }}
{{- end -}}

{{- define "mysql-bootstrap.labels" -}}
{{ include "mysql-bootstrap.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
An image reference: repository[:tag][@digest].
*/}}
{{- define "mysql-bootstrap.imageRef" -}}
{{- .repository -}}
{{- with .tag }}:{{ . }}{{ end -}}
{{- with .digest }}@{{ . }}{{ end -}}
{{- end -}}

{{- define "mysql-bootstrap.image" -}}
{{- include "mysql-bootstrap.imageRef" (dict "repository" .Values.image.repository "tag" (default .Chart.AppVersion .Values.image.tag) "digest" .Values.image.digest) -}}
{{- end -}}

{{- define "mysql-bootstrap.flavor" -}}
{{- if not (has .Values.flavor (list "mysql" "mariadb")) -}}
{{- fail (printf "flavor is %q: want mysql or mariadb" .Values.flavor) -}}
{{- end -}}
{{- .Values.flavor -}}
{{- end -}}

{{/*
"kubernetes" when the primary is the holder of a Lease (primary.mode), ""
when it is ordinal 0.
*/}}
{{- define "mysql-bootstrap.kubernetesPrimary" -}}
{{- $mode := .Values.primary.mode -}}
{{- if not (has $mode (list "ordinal-0" "kubernetes")) -}}
{{- fail (printf "primary.mode is %q: want ordinal-0 or kubernetes" $mode) -}}
{{- end -}}
{{- if eq $mode "kubernetes" }}kubernetes{{ end -}}
{{- end -}}

{{/*
The variables of primary.*, as JSON, for init and the sidecar: none in
ordinal-0 mode (the binary's default).
*/}}
{{- define "mysql-bootstrap.primaryEnv" -}}
{{- if include "mysql-bootstrap.kubernetesPrimary" . -}}
{{- dict "PRIMARY" "kubernetes" "LEASE_DURATION" .Values.primary.leaseDuration "LEASE_RENEW_INTERVAL" .Values.primary.leaseRenewInterval | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{- define "mysql-bootstrap.serverImage" -}}
{{- $mysql := eq (include "mysql-bootstrap.flavor" .) "mysql" -}}
{{- $repository := default (ternary "mysql" "mariadb" $mysql) .Values.server.image.repository -}}
{{- $tag := default (ternary "9.7" "11.8" $mysql) .Values.server.image.tag -}}
{{- include "mysql-bootstrap.imageRef" (dict "repository" $repository "tag" $tag "digest" .Values.server.image.digest) -}}
{{- end -}}

{{- define "mysql-bootstrap.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "mysql-bootstrap.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/*
The ConfigMap of server options: rendered when there are any (server.config,
or TLS).
*/}}
{{- define "mysql-bootstrap.serverConfig" -}}
{{- if .Values.tls.existingSecret -}}
[mysqld]
# Verified TLS for replication and clients (tls.existingSecret).
ssl_ca = /etc/mysql-tls/ca.crt
ssl_cert = /etc/mysql-tls/tls.crt
ssl_key = /etc/mysql-tls/tls.key
{{ end -}}
{{- with .Values.server.config }}
{{ . }}
{{- end -}}
{{- end -}}

{{/*
Variables the chart sets itself: config may not set them.
*/}}
{{- define "mysql-bootstrap.reservedVariables" -}}
{{- list "POD_NAME" "POD_NAMESPACE" "SERVICE_NAME" "FLAVOR" "MYSQL_ROOT_PASSWORD" "MYSQL_ROOT_PASSWORD_FILE" "REPLICATION_PASSWORD" "REPLICATION_PASSWORD_FILE" "TOOLS_DIR" "HTTP_ADDR" "BACKUP_ADDR" "REPLICATION_TLS_CA_FILE" "REPLICATION_TLS_CERT_FILE" "REPLICATION_TLS_KEY_FILE" "SEED_TLS_CERT_FILE" "SEED_TLS_KEY_FILE" "CONFIG_DIR" "DATA_DIR" "STATE_DIR" "MYSQL_HOST" "MYSQL_PORT" | toJson -}}
{{- end -}}

{{/*
The environment of a mysql-bootstrap container: the pod's name and
namespace, the flavour, the password files, then .extra (a dict, e.g.
TOOLS_DIR for init) and the user's config, sorted by name.
*/}}
{{- define "mysql-bootstrap.env" -}}
{{- $ctx := .ctx -}}
{{- $reserved := include "mysql-bootstrap.reservedVariables" $ctx | fromJsonArray -}}
{{- range $name, $_ := $ctx.Values.config }}
{{- if has $name (list "PRIMARY" "LEASE_DURATION" "LEASE_RENEW_INTERVAL") }}
{{- fail (printf "config.%s: the chart sets %s from primary.mode, primary.leaseDuration and primary.leaseRenewInterval" $name $name) }}
{{- end }}
{{- if has $name $reserved }}
{{- fail (printf "config.%s: the chart sets %s itself" $name $name) }}
{{- end }}
{{- end }}
{{- $vars := merge (dict) (deepCopy $ctx.Values.config) (.extra | default dict) -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: FLAVOR
  value: {{ include "mysql-bootstrap.flavor" $ctx }}
- name: MYSQL_ROOT_PASSWORD_FILE
  value: /etc/mysql-credentials/root-password
- name: REPLICATION_PASSWORD_FILE
  value: /etc/mysql-credentials/replication-password
{{- range $name, $value := $vars }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}
