{{- define "nimbus.fullname" -}}{{ .Release.Name }}-operator{{- end -}}
{{- define "nimbus.serviceAccount" -}}{{ default (include "nimbus.fullname" .) .Values.serviceAccount.name }}{{- end -}}
{{- define "nimbus.image" -}}{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}{{- end -}}
{{- define "nimbus.objectStoreNamespace" -}}{{ default .Release.Namespace .Values.objectStore.namespace }}{{- end -}}
{{- /* Labels of everything the release makes; "nimbus.labels" adds the operator component. */ -}}
{{- define "nimbus.releaseLabels" -}}
app.kubernetes.io/name: nimbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "nimbus.labels" -}}
{{ include "nimbus.releaseLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}
{{- define "nimbus.selector" -}}
app.kubernetes.io/name: nimbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}
