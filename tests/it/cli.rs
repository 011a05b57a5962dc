//! The command line as an operator uses it: zero-configuration start, `config check`, layered
//! configuration and its errors, `migrate`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::both;
use crate::support::server::{command, BIN};
use crate::support::{migration_versions, TempDir, TestDb};

/// `hotline` with none of the caller's HOTLINE variables, in `cwd`.
fn bare(cwd: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("HOTLINE_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("HOTLINE") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run hotline");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn runs_with_zero_configuration_on_sqlite_and_keeps_the_file_private() {
    let dir = TempDir::new();
    let (out, stdout, stderr) = run(bare(dir.path()).arg("migrate"));
    assert!(out.status.success(), "{stdout}{stderr}");
    let all = migration_versions();
    assert!(
        stdout.contains(&format!("{} migration(s) applied", all.len())),
        "{stdout}"
    );
    assert!(stdout.contains("sqlite database is current"), "{stdout}");
    let data = dir.path().join("data");
    let file = data.join("hotline.sqlite3");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Again: nothing to do, same installation.
    let (out, again, _) = run(bare(dir.path()).arg("migrate"));
    assert!(out.status.success());
    assert!(again.contains("0 migration(s) applied"), "{again}");
    let id = |s: &str| s.split("installation ").nth(1).map(str::to_string);
    assert_eq!(id(&stdout), id(&again));

    // A file someone made world-readable is narrowed back.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _, stderr) = run(bare(dir.path()).arg("migrate"));
    assert!(out.status.success());
    assert!(stderr.contains("narrowing it to 0600"), "{stderr}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn config_check_prints_the_defaults_from_any_directory() {
    let dir = TempDir::new();
    let (out, stdout, stderr) = run(bare(dir.path()).args(["config", "check"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("# environment: development"), "{stdout}");
    assert!(stdout.contains(r#"bind = "127.0.0.1:8080""#), "{stdout}");
    assert!(
        stdout.contains(r#"url = "sqlite://data/hotline.sqlite3""#),
        "{stdout}"
    );
    assert!(stdout.contains("migrate_on_start = true"), "{stdout}");
    assert!(
        !dir.path().join("data").exists(),
        "config check must not create the database"
    );
}

#[test]
fn layers_apply_in_order_and_secrets_are_masked() {
    let dir = TempDir::new();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("default.toml"),
        "[database]\npool_size = 3\nbusy_timeout_ms = 11\n",
    )
    .unwrap();
    std::fs::write(conf.join("staging.toml"), "[database]\npool_size = 5\n").unwrap();
    let secret_file = dir.path().join("db-url");
    std::fs::write(
        &secret_file,
        "postgres://app:CNRY-s3cret@db.internal:5432/hotline\n",
    )
    .unwrap();

    let (out, stdout, stderr) = run(bare(dir.path())
        .args(["config", "check", "--config-dir"])
        .arg(&conf)
        .env("HOTLINE_ENV", "staging")
        .env("HOTLINE__SERVER__WORKERS", "3")
        .env(
            "HOTLINE__DATABASE__URL",
            "sqlite://overridden-by-the-file-variant",
        )
        .env("HOTLINE__DATABASE__URL_FILE", &secret_file));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("# environment: staging"), "{stdout}");
    assert!(
        stdout.contains("pool_size = 5"),
        "env file beats default file: {stdout}"
    );
    assert!(
        stdout.contains("busy_timeout_ms = 11"),
        "default file beats built-in: {stdout}"
    );
    assert!(
        stdout.contains("workers = 3"),
        "environment beats files: {stdout}"
    );
    assert!(
        stdout.contains(r#"url = "postgres://app:***@db.internal:5432/hotline""#),
        "_FILE beats the plain variable, and the password is masked: {stdout}"
    );
    assert!(!stdout.contains("CNRY") && !stderr.contains("CNRY"));

    // HOTLINE_CONFIG_DIR works like --config-dir.
    let (out, stdout, _) = run(bare(dir.path())
        .args(["config", "check"])
        .env("HOTLINE_CONFIG_DIR", &conf));
    assert!(out.status.success());
    assert!(stdout.contains("pool_size = 3"), "{stdout}");
}

/// Runs `config check` with one bad setting; returns stderr after checking the exit code.
fn config_error(files: &[(&str, &str)], env: &[(&str, &str)]) -> String {
    let dir = TempDir::new();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut cmd = bare(dir.path());
    cmd.args(["config", "check", "--config-dir"])
        .arg(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (out, stdout, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        !stderr.contains("CNRY"),
        "an error repeated a value: {stderr}"
    );
    stderr
}

#[test]
fn configuration_errors_name_the_key_and_never_the_value() {
    let e = config_error(&[("default.toml", "[server]\nbnd = \"CNRY-1\"\n")], &[]);
    assert!(
        e.contains("unknown key `server.bnd`") && e.contains("default.toml"),
        "{e}"
    );
    let e = config_error(&[("development.toml", "[srv]\nbind = \"x\"\n")], &[]);
    assert!(
        e.contains("unknown key `srv`") && e.contains("development.toml"),
        "{e}"
    );
    let e = config_error(
        &[("default.toml", "[database]\npool_size = \"CNRY-2\"\n")],
        &[],
    );
    assert!(
        e.contains("`database.pool_size`") && e.contains("must be an integer"),
        "{e}"
    );
    let e = config_error(&[("default.toml", "[database]\n\nurl = \"CNRY-3 \n")], &[]);
    assert!(e.contains("default.toml: line 3"), "{e}");
    let e = config_error(&[], &[("HOTLINE__SERVER__BND", "CNRY-4")]);
    assert!(
        e.contains("unknown key `server.bnd`") && e.contains("HOTLINE__SERVER__BND"),
        "{e}"
    );
    let e = config_error(&[], &[("HOTLINE__NOSECTION", "CNRY-5")]);
    assert!(e.contains("unknown key `nosection`"), "{e}");
    let e = config_error(&[], &[("HOTLINE__DATABASE__POOL_SIZE", "CNRY-6")]);
    assert!(
        e.contains("`database.pool_size`") && e.contains("HOTLINE__DATABASE__POOL_SIZE"),
        "{e}"
    );
    let e = config_error(&[], &[("HOTLINE__DATABASE__MIGRATE_ON_START", "CNRY-7")]);
    assert!(e.contains("must be true or false"), "{e}");
    let e = config_error(
        &[],
        &[("HOTLINE__DATABASE__URL", "mysql://root:CNRY-8@h/db")],
    );
    assert!(
        e.contains("`database.url`") && e.contains("unsupported database URL scheme `mysql`"),
        "{e}"
    );
    let e = config_error(&[], &[("HOTLINE__DATABASE__URL", "data/hotline.sqlite3")]);
    assert!(
        e.contains("`database.url`") && e.contains("expected sqlite://PATH"),
        "{e}"
    );
    let e = config_error(&[], &[("HOTLINE__SERVER__BIND", "CNRY-9")]);
    assert!(
        e.contains("`server.bind`") && e.contains("not a socket address"),
        "{e}"
    );
    let e = config_error(&[], &[("HOTLINE__DATABASE__POOL_SIZE", "0")]);
    assert!(e.contains("`database.pool_size`"), "{e}");
    let e = config_error(
        &[],
        &[("HOTLINE__DATABASE__URL_FILE", "/nonexistent/CNRY-10")],
    );
    assert!(e.contains("HOTLINE__DATABASE__URL_FILE"), "{e}");
}

#[test]
fn serve_refuses_an_unusable_database_url_and_a_missing_config_dir() {
    let dir = TempDir::new();
    let (out, _, stderr) = run(bare(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "HOTLINE__DATABASE__URL",
            "mariadb://root:CNRY@127.0.0.1/test",
        ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("unsupported database URL scheme `mariadb`"),
        "{stderr}"
    );
    assert!(!stderr.contains("CNRY"));

    let (out, _, stderr) =
        run(bare(dir.path()).args(["config", "check", "--config-dir", "/nonexistent-dir"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("does not exist"), "{stderr}");

    let (out, _, stderr) = run(bare(dir.path()).args(["serve", "--bind", "not-an-address"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("`server.bind`"), "{stderr}");
}

both!(
    migrate_applies_once_and_reports_the_backend,
    |db: TestDb| {
        let dir = TempDir::new();
        let (out, stdout, stderr) = run(command(&db.url, dir.path()).arg("migrate"));
        assert!(out.status.success(), "{stdout}{stderr}");
        let all = migration_versions();
        assert!(
            stdout.contains(&format!(
                "{} migration(s) applied: {}",
                all.len(),
                all.join(", ")
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("the {} database is current", db.backend.name())),
            "{stdout}"
        );
        let (out, stdout, _) = run(command(&db.url, dir.path()).arg("migrate"));
        assert!(out.status.success());
        assert!(stdout.contains("0 migration(s) applied;"), "{stdout}");
        assert!(db.open().pending_migrations().unwrap().is_empty());
    }
);

#[test]
fn production_refuses_missing_and_development_keys() {
    let dir = TempDir::new();
    let missing = dir.path().join("nowhere/master.keys");
    let (out, _, stderr) = run(bare(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HOTLINE_ENV", "production")
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &missing));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains("production never generates"),
        "{stderr}"
    );
    assert!(!missing.exists(), "production generated a key");

    // A development key (generated by a development run) is refused in production.
    let dev = dir.path().join("dev.keys");
    let (out, _, stderr) = run(bare(dir.path())
        .args(["keys", "status"])
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &dev));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("generated a DEVELOPMENT master key file"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::metadata(&dev).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (out, _, stderr) = run(bare(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HOTLINE_ENV", "production")
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &dev));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("holds a development key; production refuses it"),
        "{stderr}"
    );

    // `keys init` makes a production key, once; production accepts it.
    let prod = dir.path().join("prod.keys");
    let (out, stdout, _) = run(bare(dir.path()).args(["keys", "init", "--file"]).arg(&prod));
    assert!(out.status.success());
    assert!(
        stdout.contains("wrote a new production key file"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::metadata(&prod).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (out, _, stderr) = run(bare(dir.path()).args(["keys", "init", "--file"]).arg(&prod));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    let (out, stdout, stderr) = run(bare(dir.path())
        .args(["keys", "status"])
        .env("HOTLINE_ENV", "production")
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &prod));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("primary master key version: 1"), "{stdout}");

    // A key file readable by others is refused, naming the fix.
    std::fs::set_permissions(&prod, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _, stderr) = run(bare(dir.path())
        .args(["keys", "status"])
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &prod));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn a_blind_index_size_outside_the_leakage_budget_is_refused() {
    let dir = TempDir::new();
    let (out, _, stderr) = run(bare(dir.path())
        .args(["config", "check"])
        .env("HOTLINE__CRYPTO__BLIND_INDEX_BITS", "24"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("`crypto.blind_index_bits`") && stderr.contains("leakage budget"),
        "{stderr}"
    );
    let (out, _, _) = run(bare(dir.path())
        .args(["config", "check"])
        .env("HOTLINE__CRYPTO__BLIND_INDEX_BITS", "15")
        .env("HOTLINE__CRYPTO__BLIND_INDEX_EXPECTED_ROWS", "100000"));
    assert!(out.status.success());
}

both!(short_cli_runs_exit_cleanly, |db: TestDb| {
    // Regression: a command that ends while the pool is still opening a TLS connection to
    // PostgreSQL crashed in OpenSSL's exit handler (SIGSEGV in about 4% of runs). Commands now
    // close the pool before exiting. Four chains and four connections make the race likely.
    let dir = TempDir::new();
    let keys = dir.path().join("master.keys");
    let run_cli = |args: &[&str]| {
        let mut cmd = command(&db.url, dir.path());
        cmd.args(args)
            .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &keys)
            .env("HOTLINE__AUDIT__CHECKPOINT_FILE", dir.path().join("cp.log"))
            .env("HOTLINE__AUDIT__STRIPES", "4")
            .env("HOTLINE__DATABASE__POOL_SIZE", "4");
        cmd.output().expect("run hotline")
    };
    for _ in 0..3 {
        assert!(run_cli(&["keys", "rotate"]).status.success());
    }
    for i in 0..40 {
        let out = run_cli(&["audit", "verify"]);
        assert!(
            out.status.success(),
            "run {i}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
});
