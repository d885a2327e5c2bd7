#!/bin/sh
# Prints deploy/prometheus/rqs-rules.yml as a PrometheusRule, the form in which the
# Prometheus Operator takes rule files:
#
#   deploy/kubernetes/monitoring/prometheusrule.sh | kubectl apply -n NAMESPACE -f -
#
# The rules stay in one file: this only indents them under `spec:`. If your Prometheus
# selects rules by a label (kube-prometheus-stack: `release: <its release name>`), pass
# it as an argument: prometheusrule.sh release=kube-prometheus-stack
# tests/ops/image/kubernetes.rs renders it and checks that its groups are the rule file's.
set -eu
rules="$(dirname "$0")/../../prometheus/rqs-rules.yml"
test -r "$rules" || { echo "prometheusrule.sh: cannot read $rules" >&2; exit 1; }
printf 'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n'
printf '  name: rqs\n  labels:\n    app.kubernetes.io/name: rqs\n'
for label in "$@"; do
    case "$label" in
        *=*) printf '    %s: "%s"\n' "${label%%=*}" "${label#*=}" ;;
        *) echo "prometheusrule.sh: $label is not NAME=VALUE" >&2; exit 2 ;;
    esac
done
printf 'spec:\n'
sed -e '/^#/d' -e 's/^./  &/' "$rules"
