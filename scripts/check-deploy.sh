#!/usr/bin/env bash
# Checks what users deploy with, as part of the test suite:
#   1. the Kubernetes manifests against the Kubernetes API schemas
#      (kubernetes-validate, from PyPI; the ServiceMonitor CRD has no bundled
#      schema and is only parsed);
#   2. every region's embedded meridian.toml with `meridian serve --check`,
#      using freshly issued certificates where the Secrets would be mounted,
#      and that the regions name each other consistently as peers;
#   3. the container image build, where a Docker daemon is available.
set -euo pipefail
cd "$(dirname "$0")/.."

MERIDIAN=${MERIDIAN:-target/debug/meridian}
K8S_VERSION=1.33.0
MANIFESTS=(examples/kubernetes/*.yaml)

if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
  echo "installing kubernetes-validate (Kubernetes API schemas) for the manifest check"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'kubernetes-validate==1.37.0'
fi
echo "validating ${#MANIFESTS[@]} manifest files against Kubernetes $K8S_VERSION"
python3 -m kubernetes_validate --strict --quiet --no-warn -k "$K8S_VERSION" "${MANIFESTS[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Writes <region>.toml per ConfigMap and prints the region names.
regions=$(python3 - "$work" "${MANIFESTS[@]}" <<'PY'
import pathlib, sys, tomllib, yaml

out = pathlib.Path(sys.argv[1])
configs = {}
for f in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(f)):
        if doc and doc.get("kind") == "ConfigMap" and "meridian.toml" in doc.get("data", {}):
            text = doc["data"]["meridian.toml"]
            c = tomllib.loads(text)
            configs[(c["region-id"], c["region-name"])] = c
            (out / f"{c['region-name']}.toml").write_text(text)
for (rid, name), c in configs.items():
    peers = {(p["id"], p["name"]) for p in c["replication"]["peers"]}
    others = set(configs) - {(rid, name)}
    if peers != others:
        sys.exit(f"region {name}: peers {sorted(peers)} but the other regions are {sorted(others)}")
print(" ".join(name for _, name in sorted(configs)))
PY
)
echo "checking the configuration of regions: $regions"
"$MERIDIAN" certs --regions "${regions// /,}" --out "$work/certs" >/dev/null
for r in $regions; do
  # The layout of the meridian-<region>-tls Secret (docs/deploy.md).
  mkdir -p "$work/$r-tls"
  cp "$work/certs/ca.pem" "$work/$r-tls/ca.pem"
  cp "$work/certs/$r.pem" "$work/$r-tls/region.pem"
  cp "$work/certs/$r-key.pem" "$work/$r-tls/region-key.pem"
  sed "s#/etc/meridian/tls#$work/$r-tls#" "$work/$r.toml" >"$work/$r-local.toml"
  MERIDIAN_REQUIREPASS=check-only-password MERIDIAN_ADMIN_TOKEN=check-only-admin-token-0123456789 \
    "$MERIDIAN" serve --config "$work/$r-local.toml" --check
done

if docker info >/dev/null 2>&1; then
  echo "building the container image"
  docker build -f runtime/Dockerfile -t meridian:0.1.0 .
  docker run --rm meridian:0.1.0 --version
else
  echo "skipping the container image build: no Docker daemon here (runtime/Dockerfile)"
fi
