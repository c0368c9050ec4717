#!/usr/bin/env bash
# Install one StudyLens cloud release on an Amazon Linux 2023 instance and start it.
#
# Run as root by the launch template's user data (deploy/aws/studylens-cloud.yaml embeds this
# file verbatim after a few `export` lines with the stack's values; tests/deploy checks the copy).
# The release is the tarball scripts/release.sh makes (deploy/aws/bundle.sh): exactly one wheel,
# the unit systemd/studylens-cloud.service, constraints.txt (the versions the test suite passed
# with) and SHA256SUMS. Steps: packages -> system user -> fetch and verify the release ->
# /etc/studylens/cloud.env -> virtualenv with exactly that wheel -> unit (+ log drop-in) ->
# start, wait for /readyz -> cfn-signal.
#
# Input (environment):
#   STUDYLENS_RELEASE_URI     s3://bucket/key of the release tarball (fetched with the aws CLI)
#   STUDYLENS_CLOUD_*         written to the unit's environment file as they are; required:
#                             DATABASE_SECRET_ARN, DATABASE_HOST, JWT_SECRET_ARN, S3_BUCKET,
#                             PUBLIC_URL. Defaults added here: LOG_FORMAT=json, HOST=0.0.0.0,
#                             PORT=8080, AWS_REGION and S3_REGION from STUDYLENS_AWS_REGION.
#   STUDYLENS_AWS_REGION      the stack's region (aws CLI, cfn-signal)
#   STUDYLENS_LOG_GROUP       CloudWatch log group the agent ships the API's JSON lines to
#   STUDYLENS_CFN_STACK, STUDYLENS_CFN_RESOURCE
#                             stack and logical id to cfn-signal (no signal when unset)
#
# Overrides, so that the script runs without AWS (tests/deploy/test_install_release.py):
#   STUDYLENS_ROOT=/tmp/x     write every path under this prefix instead of /
#   STUDYLENS_RELEASE_FILE=f  a local release tarball instead of STUDYLENS_RELEASE_URI
#   STUDYLENS_PYTHON=p        interpreter of the virtualenv (default python3.11)
#   STUDYLENS_SKIP=a,b        steps not to run, of: packages (dnf), user (useradd),
#                             services (systemctl, CloudWatch agent, wait for /readyz),
#                             signal (cfn-signal)
set -euo pipefail

root="${STUDYLENS_ROOT:-/}"
root="${root%/}"
python="${STUDYLENS_PYTHON:-python3.11}"
skip=",${STUDYLENS_SKIP:-},"
user=studylens
unit=studylens-cloud.service
opt="$root/opt/studylens"
venv="$opt/venv"
etc="$root/etc/studylens"
units="$root/etc/systemd/system"
logs="$root/var/log/studylens-cloud"
agent_config="$root/opt/aws/amazon-cloudwatch-agent/etc/studylens-cloud.json"

log() { echo "install-release: $*" >&2; }
wanted() { [[ "$skip" != *",$1,"* ]]; }

signal() {  # signal EXIT_CODE: tell CloudFormation how the install went (first boot only)
  if ! wanted signal || [ -z "${STUDYLENS_CFN_STACK:-}" ]; then return 0; fi
  # After the stack is complete (an instance refresh) CloudFormation refuses the signal.
  /opt/aws/bin/cfn-signal -e "$1" --stack "$STUDYLENS_CFN_STACK" \
    --resource "${STUDYLENS_CFN_RESOURCE:?}" --region "${STUDYLENS_AWS_REGION:?}" ||
    log "cfn-signal refused (normal outside stack creation)"
}
trap 'rc=$?; if [ "$rc" -ne 0 ]; then log "failed ($rc)"; signal 1; fi' EXIT

install_packages() {
  # python3.11: the project's Python; CloudWatch agent: ships the JSON log lines;
  # aws-cfn-bootstrap: cfn-signal. The aws CLI and the SSM agent come with the image.
  dnf install -y python3.11 python3.11-pip amazon-cloudwatch-agent aws-cfn-bootstrap logrotate
}

create_user() {
  # Static system user the unit runs as (User=studylens), no login shell, no home.
  id -u "$user" >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$user"
}

fetch_release() {  # fetch_release DIR: unpack the release into DIR and verify it
  local dir="$1" tarball="$1/release.tar.gz"
  if [ -n "${STUDYLENS_RELEASE_FILE:-}" ]; then
    cp "$STUDYLENS_RELEASE_FILE" "$tarball"
  else
    aws s3 cp --only-show-errors --region "${STUDYLENS_AWS_REGION:?}" \
      "${STUDYLENS_RELEASE_URI:?STUDYLENS_RELEASE_URI or STUDYLENS_RELEASE_FILE}" "$tarball"
  fi
  tar -xzf "$tarball" -C "$dir" --no-same-owner
  (cd "$dir" && sha256sum --check --strict --quiet SHA256SUMS)
}

only_wheel() {  # only_wheel DIR: print the release's one wheel, fail unless exactly one
  local wheels=("$1"/studylens-*.whl)
  if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
    log "expected exactly one studylens wheel in the release, found: ${wheels[*]}"
    return 1
  fi
  echo "${wheels[0]}"
}

install_wheel() {  # install_wheel WHEEL CONSTRAINTS: a fresh virtualenv with exactly that wheel
  local wheel="$1" constraints="$2" name version installed
  name="$(basename "$wheel")"
  version="$(echo "$name" | cut -d- -f2)"
  rm -rf "$venv"
  mkdir -p "$opt/releases"
  cp "$wheel" "$opt/releases/$name"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
    --constraint "$constraints" "$opt/releases/$name[cloud]"
  installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("studylens"))')"
  if [ "$installed" != "$version" ]; then
    log "installed studylens $installed, expected $version"
    return 1
  fi
  log "studylens $version installed into $venv"
}

write_env_file() {
  # systemd reads it as root before dropping privileges (EnvironmentFile= of the unit): 0600.
  # Only ARNs, no secret values: the API fetches the secrets with the instance role.
  local name value bad="[[:space:]\"'\\\\\$]"
  : "${STUDYLENS_CLOUD_DATABASE_SECRET_ARN:?}" "${STUDYLENS_CLOUD_DATABASE_HOST:?}"
  : "${STUDYLENS_CLOUD_JWT_SECRET_ARN:?}" "${STUDYLENS_CLOUD_S3_BUCKET:?}"
  : "${STUDYLENS_CLOUD_PUBLIC_URL:?}"
  export STUDYLENS_CLOUD_LOG_FORMAT="${STUDYLENS_CLOUD_LOG_FORMAT:-json}"
  export STUDYLENS_CLOUD_HOST="${STUDYLENS_CLOUD_HOST:-0.0.0.0}"
  export STUDYLENS_CLOUD_PORT="${STUDYLENS_CLOUD_PORT:-8080}"
  export STUDYLENS_CLOUD_AWS_REGION="${STUDYLENS_CLOUD_AWS_REGION:-${STUDYLENS_AWS_REGION:?}}"
  export STUDYLENS_CLOUD_S3_REGION="${STUDYLENS_CLOUD_S3_REGION:-$STUDYLENS_AWS_REGION}"
  mkdir -p "$etc"
  chmod 0755 "$etc"
  (
    umask 077
    {
      echo "# Written by deploy/aws/install-release.sh from the stack's values."
      for name in $(compgen -e | grep '^STUDYLENS_CLOUD_' | sort); do
        value="${!name}"
        if [[ "$value" =~ $bad ]]; then
          log "$name holds whitespace, a quote, a backslash or \$: refused"
          return 1
        fi
        echo "$name=$value"
      done
      # Only the load balancer reaches the port (its security group): trust its
      # X-Forwarded-For for the client address (per-address rate limits).
      echo "FORWARDED_ALLOW_IPS=*"
    } >"$etc/cloud.env.new"
    mv "$etc/cloud.env.new" "$etc/cloud.env"
  )
}

install_unit() {  # install_unit DIR: the release's unit, plus the log drop-in for the agent
  mkdir -p "$units/$unit.d" "$logs"
  install -m 0644 "$1/$unit" "$units/$unit"
  # The CloudWatch agent tails files, not the journal: the API's JSON lines go to a file
  # (opened by systemd as root, before the sandbox), rotated by logrotate below.
  cat >"$units/$unit.d/cloudwatch-logs.conf" <<EOF
# Written by deploy/aws/install-release.sh: JSON log lines for the CloudWatch agent.
[Service]
StandardOutput=append:/var/log/studylens-cloud/api.log
StandardError=inherit
EOF
  mkdir -p "$root/etc/logrotate.d"
  cat >"$root/etc/logrotate.d/studylens-cloud" <<EOF
/var/log/studylens-cloud/api.log {
    daily
    rotate 3
    maxsize 100M
    compress
    missingok
    notifempty
    copytruncate
}
EOF
  mkdir -p "$(dirname "$agent_config")"
  cat >"$agent_config" <<EOF
{
  "agent": {"run_as_user": "root"},
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          {
            "file_path": "/var/log/studylens-cloud/api.log",
            "log_group_name": "${STUDYLENS_LOG_GROUP:?}",
            "log_stream_name": "{instance_id}"
          }
        ]
      }
    }
  }
}
EOF
}

start_services() {
  systemctl daemon-reload
  systemctl enable --now "$unit"
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 \
    -s -c "file:${agent_config#"$root"}"
  # Migrations run first under an advisory lock; give the first boot 10 minutes to be ready.
  local port="${STUDYLENS_CLOUD_PORT:-8080}" tries=0
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then
      log "/readyz did not answer 200 within 10 minutes"
      systemctl status --no-pager "$unit" >&2 || true
      return 1
    fi
    sleep 5
  done
  log "/readyz answers 200"
}

main() {
  local work
  if wanted packages; then install_packages; fi
  if wanted user; then create_user; fi
  work="$(mktemp -d)"
  fetch_release "$work"
  write_env_file
  install_wheel "$(only_wheel "$work")" "$work/constraints.txt"
  install_unit "$work"
  rm -rf "$work"
  if wanted services; then start_services; fi
  signal 0
}

main "$@"
