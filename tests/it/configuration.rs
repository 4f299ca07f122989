//! The settings as their one declaration gives them: the generated reference and the README's
//! table are current, the binary knows every declared variable and reports others, and each
//! declared flag is offered by the command it belongs to.

use mypostshare::config::{self, Scope, reference};
use std::path::PathBuf;
use std::process::Command;

fn repository_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Compares a generated file with the stored one; `UPDATE_DOCS=1` stores the generated one.
fn check_generated(path: &str, generated: &str) {
    let file = repository_file(path);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&file, generated).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        stored == generated,
        "{path} is not what the declarations in src/config.rs give; run \
         `UPDATE_DOCS=1 cargo test --test it configuration` and commit the result"
    );
}

#[test]
fn configuration_reference_is_current() {
    check_generated(
        "docs/configuration.md",
        &reference::configuration_markdown(),
    );
}

#[test]
fn configuration_table_of_the_readme_is_current() {
    let readme = std::fs::read_to_string(repository_file("README.md")).unwrap();
    let current = reference::readme_with_current_table(&readme)
        .expect("README.md has the markers of the generated settings table");
    check_generated("README.md", &current);
}

fn binary(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mypostshare"));
    // Only the variables of this test: whatever the machine has set must not leak in.
    for (name, _) in std::env::vars() {
        if name.starts_with("MYPOSTSHARE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap()
}

#[test]
fn configuration_every_declared_variable_is_accepted_and_an_unknown_one_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db").display().to_string();
    let mut env: Vec<(String, String)> = config::known_env_vars()
        .into_iter()
        .map(|name| (name, "1".to_string()))
        .collect();
    // The global settings are parsed by every command, so they need values they accept.
    env.retain(|(name, _)| name != "MYPOSTSHARE_DB" && name != "MYPOSTSHARE_LOG_FORMAT");
    env.push(("MYPOSTSHARE_DB".into(), db.clone()));
    env.push(("MYPOSTSHARE_LOG_FORMAT".into(), "text".into()));
    assert!(
        env.iter()
            .any(|(n, _)| n == "MYPOSTSHARE_HEAD_TIMEOUT_SECS")
            && env
                .iter()
                .any(|(n, _)| n == "MYPOSTSHARE_JOB_REFRESH_TOKENS")
            && env
                .iter()
                .any(|(n, _)| n == "MYPOSTSHARE_REDDIT_API_VERSION")
    );
    // `migrate` parses only the global flags, so every other variable's value is irrelevant.
    let quiet = binary(&["--json", "migrate"], &env);
    assert!(quiet.status.success());
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(!stderr.contains("unknown setting"), "{stderr}");
    assert!(
        std::path::Path::new(&db).exists(),
        "MYPOSTSHARE_DB was read"
    );

    env.push(("MYPOSTSHARE_WORKER".into(), "4".into()));
    env.push(("MYPOSTSHARE_LINKEDIN_CLIENTID".into(), "x".into()));
    let warned = binary(&["--json", "migrate"], &env);
    assert!(warned.status.success());
    let stderr = String::from_utf8_lossy(&warned.stderr);
    for typo in ["MYPOSTSHARE_WORKER", "MYPOSTSHARE_LINKEDIN_CLIENTID"] {
        assert!(
            stderr.contains(&format!(
                "warning: unknown setting {typo} is ignored (a typo?)"
            )),
            "{stderr}"
        );
    }
    assert_eq!(stderr.matches("unknown setting").count(), 2, "{stderr}");
}

#[test]
fn configuration_every_declared_flag_is_offered_with_its_variable_and_default() {
    let help = |args: &[&str]| String::from_utf8(binary(args, &[]).stdout).unwrap();
    let (top, serve, sandbox) = (
        help(&["--help"]),
        help(&["serve", "--help"]),
        help(&["sandbox", "--help"]),
    );
    let declared = config::declared_settings();
    assert!(declared.len() >= 28);
    for (scope, setting) in declared {
        let text = match scope {
            Scope::EveryCommand => &top,
            Scope::Serve => &serve,
            Scope::Simulator => &sandbox,
        };
        let line = text
            .lines()
            .position(|l| {
                l.trim_start().starts_with(&format!("--{} ", setting.long))
                    || l.trim() == format!("--{}", setting.long)
            })
            .map(|at| {
                format!(
                    "{} {}",
                    text.lines().nth(at).unwrap(),
                    text.lines().nth(at + 1).unwrap_or("")
                )
            })
            .unwrap_or_else(|| panic!("--{} is not offered: {text}", setting.long));
        assert!(line.contains(&format!("[env: {}=]", setting.env)), "{line}");
        if let Some(default) = setting.default_value {
            assert!(line.contains(default), "{line}");
        }
        assert!(line.contains(&setting.help), "{line}");
    }
}
