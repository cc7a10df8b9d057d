#!/bin/sh
# azd preprovision hook: stops before anything is deployed when the tools are too old for these templates.
# The Microsoft Graph Bicep extension (microsoftgraph/v1.0:1.0.0) needs Bicep 0.36.1 or later; azd bundles
# its own Bicep, and azd 1.17.0 is the first release that bundles 0.36.1 (docs/deploy.md, "Before you
# start"). azure.yaml's requiredVersions says the same to azd releases that read it; this hook also covers
# AZD_BICEP_TOOL_PATH, which makes azd use another Bicep binary.
set -eu

MIN_AZD=1.17.0
MIN_BICEP=0.36.1

# Prints the first x.y.z in its input.
first_version() {
  sed -n 's/[^0-9]*\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1
}

# True when version $1 >= version $2 (numeric, field by field).
at_least() {
  awk -v have="$1" -v want="$2" 'BEGIN {
    split(have, h, "."); split(want, w, ".")
    for (i = 1; i <= 3; i++) { if (h[i] + 0 > w[i] + 0) exit 0; if (h[i] + 0 < w[i] + 0) exit 1 }
    exit 0
  }'
}

failed=0

if azd_output=$(azd version 2>/dev/null); then
  azd_version=$(printf '%s\n' "$azd_output" | first_version)
  if [ -z "$azd_version" ]; then
    echo "preprovision: could not read a version from 'azd version' ($azd_output); azd $MIN_AZD or later is needed." >&2
    failed=1
  elif ! at_least "$azd_version" "$MIN_AZD"; then
    echo "preprovision: azd $azd_version is too old: its Bicep cannot load the Microsoft Graph extension" \
         "microsoftgraph/v1.0:1.0.0. Install azd $MIN_AZD or later (https://aka.ms/azd-install)." >&2
    failed=1
  fi
else
  echo "preprovision: 'azd version' did not run; azd $MIN_AZD or later is needed." >&2
  failed=1
fi

if [ -n "${AZD_BICEP_TOOL_PATH:-}" ]; then
  if bicep_output=$("$AZD_BICEP_TOOL_PATH" --version 2>/dev/null); then
    bicep_version=$(printf '%s\n' "$bicep_output" | first_version)
    if [ -z "$bicep_version" ] || ! at_least "$bicep_version" "$MIN_BICEP"; then
      echo "preprovision: AZD_BICEP_TOOL_PATH=$AZD_BICEP_TOOL_PATH is Bicep ${bicep_version:-of unknown version};" \
           "the Microsoft Graph extension needs Bicep $MIN_BICEP or later. Update it, or unset" \
           "AZD_BICEP_TOOL_PATH to use the Bicep azd bundles." >&2
      failed=1
    fi
  else
    echo "preprovision: AZD_BICEP_TOOL_PATH=$AZD_BICEP_TOOL_PATH does not run." >&2
    failed=1
  fi
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "preprovision: azd $azd_version can deploy the Microsoft Graph extension resources."
