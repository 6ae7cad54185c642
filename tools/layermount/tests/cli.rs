//! The CLI surface, unprivileged: help, version, usage errors, JSON shape, bad input.

use assert_cmd::Command;
use predicates::prelude::*;

fn lm(root: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("layermount").unwrap();
    c.env("CTRKIT_ROOT", root)
        .env("CTRKIT_STATE", root.join("state"));
    c
}

fn one_error_line(out: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("layermount: error: "), "{err}");
    assert!(err.contains(needle), "'{err}' lacks '{needle}'");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_and_version() {
    let t = tempfile::tempdir().unwrap();
    lm(t.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: layermount"));
    lm(t.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^layermount \(ctrkit\) \d+\.\d+\.\d+\n$").unwrap());
    lm(t.path())
        .args(["mount", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--readonly"));
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let t = tempfile::tempdir().unwrap();
    let out = lm(t.path()).args(["mount", "img", "/x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    one_error_line(&out, "required");
    let out = lm(t.path())
        .args([
            "mount",
            "img",
            "/x",
            "--container",
            "-bad",
            "--driver",
            "zfs",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = lm(t.path())
        .args(["import", "x.tar", "--name", "UPPER:case"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    one_error_line(&out, "invalid image name 'UPPER:case'");
}

#[test]
fn empty_store_lists_as_json() {
    let t = tempfile::tempdir().unwrap();
    for sub in ["images", "layers", "containers"] {
        let out = lm(t.path()).args([sub, "--json"]).output().unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v, serde_json::json!([]));
    }
    let out = lm(t.path()).args(["df", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layers"], 0);
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let t = tempfile::tempdir().unwrap();
    let out = lm(t.path()).args(["inspect", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    one_error_line(&out, "no such image: nope");
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, vec![0x55u8; 4096]).unwrap();
    let out = lm(t.path()).arg("import").arg(&junk).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    one_error_line(&out, "junk.tar");
    let out = lm(t.path()).args(["export", "nothing"]).output().unwrap();
    one_error_line(&out, "no such container or image: nothing");
}

#[test]
fn registry_commands_refuse_bad_input_in_one_line() {
    let t = tempfile::tempdir().unwrap();
    for (args, code, needle) in [
        (vec!["pull", ""], 2, "invalid image reference ''"),
        (vec!["pull", "Upper/Case"], 2, "invalid image reference"),
        (vec!["pull", "a@sha256:xyz"], 2, "digest"),
        (vec!["pull", "--platform", "linux", "a"], 2, "--platform"),
        (vec!["pull", "--creds", "nocolon", "a"], 2, "--creds"),
        (vec!["pull", "--jobs", "0", "a"], 2, "--jobs"),
        (
            vec!["push", "no/such:image", "127.0.0.1:1/x:y"],
            1,
            "no such image",
        ),
        (vec!["tag", "no/such:image", "x"], 1, "no such image"),
        (
            vec!["login", "a/b/c", "-u", "u", "-p", "p"],
            2,
            "invalid registry",
        ),
    ] {
        let out = lm(t.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        one_error_line(&out, needle);
    }
    // logout of a registry no auth file names: one line, exit 1
    let out = lm(t.path())
        .args(["logout", "127.0.0.1:1"])
        .env("REGISTRY_AUTH_FILE", t.path().join("auth.json"))
        .env("HOME", t.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DOCKER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    one_error_line(&out, "not logged in to 127.0.0.1:1");
}
