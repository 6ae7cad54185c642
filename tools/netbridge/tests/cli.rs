//! The CLI surface, unprivileged: nothing here reaches the kernel's network state (every
//! command fails or answers before any netlink or nft call).

use assert_cmd::Command;
use predicates::prelude::*;

fn nb() -> Command {
    let mut c = Command::cargo_bin("netbridge").unwrap();
    c.env_remove("CNI_COMMAND")
        .env("CTRKIT_ROOT", "/nonexistent/ctrkit-test-root");
    c
}

#[test]
fn version_and_help() {
    nb().arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^netbridge \(ctrkit\) \d+\.\d+\.\d+\n$").unwrap());
    nb().arg("attach")
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--publish"));
}

#[test]
fn bad_values_are_usage_errors_naming_the_input() {
    for (args, needle) in [
        (
            vec!["create", "nb0", "--subnet", "10.0.0.0/33"],
            "10.0.0.0/33",
        ),
        (vec!["create", "nb0", "--subnet", "bogus"], "bogus"),
        (
            vec!["create", "nb0", "--subnet", "10.0.0.0/24", "--mtu", "9"],
            "MTU",
        ),
        (
            vec![
                "attach",
                "1",
                "--bridge",
                "b",
                "--publish",
                "8000-8001:80-82",
            ],
            "'8000-8001:80-82'",
        ),
        (
            vec!["attach", "1", "--bridge", "b", "--mac", "01:00:5e:00:00:01"],
            "multicast",
        ),
        (vec!["attach", "1"], "--bridge is required"),
        (vec!["detach", "--bridge", "b"], "NETNS or --name"),
        (vec!["attach", "--none", "1", "--bridge", "b"], "--bridge"),
    ] {
        nb().args(&args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with("netbridge: error: "))
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("panicked").not())
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
}

#[test]
fn cni_version() {
    let out = Command::cargo_bin("netbridge")
        .unwrap()
        .env("CNI_COMMAND", "VERSION")
        .write_stdin("")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["supportedVersions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "1.0.0")
    );
}

fn cni_error(env: &[(&str, &str)], stdin: &str) -> serde_json::Value {
    let mut c = Command::cargo_bin("netbridge").unwrap();
    for k in ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"] {
        c.env_remove(k);
    }
    c.env("CTRKIT_ROOT", "/nonexistent/ctrkit-test-root");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.write_stdin(stdin.to_string()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    serde_json::from_slice(&out.stdout).expect("an error object on stdout")
}

#[test]
fn cni_errors_are_spec_objects() {
    let e = cni_error(&[("CNI_COMMAND", "ADD")], "{not json");
    assert_eq!(e["code"], 6);
    let conf = r#"{"cniVersion":"1.0.0","name":"n","type":"netbridge","subnet":"10.0.0.0/24"}"#;
    let e = cni_error(&[("CNI_COMMAND", "ADD")], conf);
    assert_eq!(e["code"], 4);
    assert!(e["msg"].as_str().unwrap().contains("CNI_CONTAINERID"));
    let e = cni_error(
        &[("CNI_COMMAND", "ADD")],
        r#"{"cniVersion":"0.1.0","name":"n","type":"netbridge"}"#,
    );
    assert_eq!(e["code"], 1);
    let e = cni_error(&[("CNI_COMMAND", "FROB")], conf);
    assert_eq!(e["code"], 4);
    assert_eq!(e["cniVersion"], "1.0.0");
}
