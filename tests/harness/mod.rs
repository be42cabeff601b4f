//! Real-mail-server test harness: a private Dovecot (IMAP + LMTP) and Postfix (SMTP → LMTP)
//! on 127.0.0.1, in a temp dir, per test. Include from an integration test with `mod harness;`.
//!
//! Needs root and the Debian packages `dovecot-imapd dovecot-lmtpd postfix` (tests/run.sh
//! installs them). End-to-end tests run only when `CLOSELOOP_E2E=1`; when set, a missing server
//! makes `MailLab::start` panic naming the package.
//!
//! Layout of a lab dir (`/tmp/closeloop-lab-XXXXXX`, kept short for Unix socket paths):
//! `dovecot/{dovecot.conf,users,oauth2.conf.ext,oauth2-keys,run,state}`, `postfix/{etc,spool,data}`, `mail/<domain>/<local>/Maildir`,
//! `log/{dovecot.log,postfix.log,*.out}`. The dir is removed on drop, unless the test panicked
//! (then it is kept and its path printed).
#![allow(dead_code)]

mod client;
mod config;
mod token_endpoint;

#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use token_endpoint::{Client as OAuth2Client, TokenEndpoint, DEVICE_CODE};

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};

/// Prefix of every lab dir under /tmp; also used to find labs left behind by killed test runs.
const LAB_PREFIX: &str = "closeloop-lab-";
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// True when end-to-end tests against real mail servers should run (`CLOSELOOP_E2E=1`).
pub fn e2e_enabled() -> bool {
    matches!(
        std::env::var("CLOSELOOP_E2E").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Writes a line straight to the process's stderr, bypassing libtest's output capture, so that
/// tests/run.sh can count the end-to-end tests that ran.
fn announce(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

fn current_test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed-thread")
        .to_string()
}

/// The HS256 key the lab's Dovecot checks XOAUTH2 access tokens with.
pub const OAUTH2_KEY: &[u8] = b"closeloop-lab-oauth2-signing-key";

/// A JWT access token for `user` as an identity provider would issue it, signed with `key`
/// (`OAUTH2_KEY` for one the lab accepts), expiring `expires_in` seconds from now (negative:
/// expired already).
pub fn oauth2_token(user: &str, expires_in: i64, key: &[u8]) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":"{user}","iat":{},"exp":{}}}"#,
        now.min(now + expires_in) - 60,
        now + expires_in
    ));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

/// A running Dovecot + Postfix pair for one test.
pub struct MailLab {
    /// The lab's temp dir (config, mail, queues, logs).
    pub dir: PathBuf,
    pub imap_port: u16,
    pub lmtp_port: u16,
    pub smtp_port: u16,
    /// SMTP that relays only for clients signed in with AUTH (PLAIN, LOGIN with a user's
    /// password, XOAUTH2 with `oauth2_token`), checked by Dovecot over its SASL port.
    pub submission_port: u16,
    sasl_port: u16,
    /// The main mail domain: "example.org". Users in other domains are served too.
    pub domain: String,
    /// (address, password) of every user.
    pub users: Vec<(String, String)>,
    pub instance_name: String,
    /// Set in a lab started with `start_with_tls`.
    pub tls: Option<LabTls>,
    dovecot: Mutex<Option<Child>>,
    postfix: Mutex<Option<Child>>,
}

/// TLS in a lab: a throwaway CA, and a server certificate it signed for `localhost` and
/// 127.0.0.1. Both servers also offer STARTTLS on their plain ports.
#[derive(Clone, Debug)]
pub struct LabTls {
    /// The CA certificate (PEM): trust it with `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    /// IMAP with implicit TLS.
    pub imaps_port: u16,
    /// SMTP with implicit TLS (submissions).
    pub smtps_port: u16,
}

impl MailLab {
    /// Starts Dovecot and Postfix for these users (address, password) on free loopback ports.
    /// Panics naming the missing Debian package if a binary is absent, and with the server's log
    /// tail if it fails to start. Mailboxes `Processed`, `Sent`, `Junk`, `Trash` are auto-created.
    pub fn start(users: &[(&str, &str)]) -> MailLab {
        MailLab::start_lab(users, false)
    }

    /// As `start`, with TLS as well (see `LabTls`). Needs the `openssl` command.
    pub fn start_with_tls(users: &[(&str, &str)]) -> MailLab {
        MailLab::start_lab(users, true)
    }

    fn start_lab(users: &[(&str, &str)], with_tls: bool) -> MailLab {
        let began = Instant::now();
        check_prerequisites();
        reap_abandoned_labs();

        let mut domains = BTreeSet::new();
        domains.insert("example.org".to_string());
        for (address, _) in users {
            let (_, domain) = split_address(address);
            domains.insert(domain.to_ascii_lowercase());
        }

        let tmp = tempfile::Builder::new()
            .prefix(LAB_PREFIX)
            .tempdir_in("/tmp")
            .expect("MailLab: cannot create temp dir under /tmp");
        let dir = tmp.keep();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let instance_name = format!(
            "cl-{}",
            dir.file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches(LAB_PREFIX)
        );
        fs::write(dir.join("owner.pid"), std::process::id().to_string()).unwrap();

        let [imap_port, lmtp_port, smtp_port, imaps_port, smtps_port, submission_port, sasl_port] =
            free_ports::<7>();
        let tls = with_tls.then(|| LabTls {
            ca_file: make_certificates(&dir),
            imaps_port,
            smtps_port,
        });
        let lab = MailLab {
            dir,
            imap_port,
            lmtp_port,
            smtp_port,
            submission_port,
            sasl_port,
            domain: "example.org".to_string(),
            users: users
                .iter()
                .map(|(a, p)| (a.to_string(), p.to_string()))
                .collect(),
            instance_name,
            tls,
            dovecot: Mutex::new(None),
            postfix: Mutex::new(None),
        };
        lab.write_config(&domains);
        lab.start_imap();
        lab.start_smtp();
        announce(&format!(
            "e2e: lab started for {} in {} ms (imap {}, lmtp {}, smtp {}, dir {})",
            current_test_name(),
            began.elapsed().as_millis(),
            lab.imap_port,
            lab.lmtp_port,
            lab.smtp_port,
            lab.dir.display()
        ));
        lab
    }

    /// Path of a user's maildir (`.../Maildir`, containing `cur/ new/ tmp/`; other folders are
    /// `.Processed` etc. inside it). Exists after the first delivery or login.
    pub fn maildir(&self, address: &str) -> PathBuf {
        let (local, domain) = split_address(address);
        self.dir
            .join("mail")
            .join(domain.to_ascii_lowercase())
            .join(local.to_ascii_lowercase())
            .join("Maildir")
    }

    /// Password of a configured user.
    pub fn password(&self, address: &str) -> &str {
        self.users
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(address))
            .map(|(_, p)| p.as_str())
            .unwrap_or_else(|| panic!("MailLab: no user {address}"))
    }

    /// Last `lines` lines of both servers' logs (for assertion messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for name in ["dovecot.log", "dovecot.out", "postfix.log", "postfix.out"] {
            out.push_str(&format!("--- {name} ---\n"));
            out.push_str(&tail(&self.dir.join("log").join(name), lines));
        }
        out
    }

    // ---- Dovecot ---------------------------------------------------------------------------

    /// Starts Dovecot (same ports, same mail) if it is not running; returns when IMAP answers.
    pub fn start_imap(&self) {
        let mut guard = self.dovecot.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_some() {
            return;
        }
        let out = self.log_file("dovecot.out");
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.dir.join("dovecot/dovecot.conf"))
            // Own process group: stopping signals the whole group, and a Ctrl-C aimed at the
            // test run does not hit the servers mid-test.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("MailLab: cannot run /usr/sbin/dovecot: {e}"));
        *guard = Some(child);
        let child = guard.as_mut().unwrap();
        if let Err(why) = wait_ready(child, self.imap_port, "* OK") {
            let _ = child.kill();
            let _ = child.wait();
            *guard = None;
            panic!(
                "MailLab: Dovecot did not start ({why}); dir {}\n{}",
                self.dir.display(),
                self.log_tail(40)
            );
        }
        if let Err(why) = wait_ready_port(self.lmtp_port, "220") {
            panic!(
                "MailLab: Dovecot LMTP not answering ({why})\n{}",
                self.log_tail(40)
            );
        }
        drop(guard);
        // Mail deferred while Dovecot was down goes out now rather than at the next retry.
        self.flush_smtp_queue();
    }

    /// Restarts Dovecot offering exactly these capabilities after login
    /// (`imap_capability`), e.g. without MOVE or UIDPLUS, as some servers do. The
    /// commands themselves still work: it is the client's choice not to use them.
    pub fn offer_imap_capabilities(&self, caps: &str) {
        self.stop_imap();
        let conf = self.dir.join("dovecot/dovecot.conf");
        let mut text = fs::read_to_string(&conf).unwrap();
        text.push_str(&format!("\nimap_capability = {caps}\n"));
        fs::write(&conf, text).unwrap();
        self.start_imap();
    }

    /// Stops Dovecot (SIGTERM, reaped); returns when its ports are closed.
    pub fn stop_imap(&self) {
        let mut guard = self.dovecot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            let pid = child.id();
            terminate(&mut child, pid, true);
            wait_ports_free(&[self.imap_port, self.lmtp_port, self.sasl_port]);
        }
    }

    // ---- Postfix ---------------------------------------------------------------------------

    /// Starts Postfix (same port, same queue) if it is not running; returns when SMTP answers.
    pub fn start_smtp(&self) {
        let mut guard = self.postfix.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_some() {
            return;
        }
        // Postfix ignores (and keeps re-reading) config files modified in the last ~2 s.
        self.backdate_postfix_config();
        let out = self.log_file("postfix.out");
        let child = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.dir.join("postfix/etc"))
            .arg("start-fg")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("MailLab: cannot run /usr/sbin/postfix: {e}"));
        *guard = Some(child);
        let child = guard.as_mut().unwrap();
        let ready = wait_ready(child, self.smtp_port, "220")
            .and_then(|()| wait_ready_port(self.submission_port, "220"));
        if let Err(why) = ready {
            if let Some(pid) = self.postfix_master_pid() {
                signal(pid, "KILL");
            }
            let _ = child.kill();
            let _ = child.wait();
            *guard = None;
            panic!(
                "MailLab: Postfix did not start ({why}); dir {}\n{}",
                self.dir.display(),
                self.log_tail(40)
            );
        }
    }

    /// Stops Postfix (SIGTERM to its master, reaped); returns when the SMTP port is closed.
    /// The queue is kept: mail accepted but not yet delivered goes out after `start_smtp`.
    pub fn stop_smtp(&self) {
        let mut guard = self.postfix.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            let pid = self.postfix_master_pid().unwrap_or(child.id());
            terminate(&mut child, pid, false);
            wait_ports_free(&[self.smtp_port, self.submission_port]);
        }
    }

    /// Asks Postfix to retry deferred mail now (`postqueue -f`); no-op if Postfix is stopped.
    pub fn flush_smtp_queue(&self) {
        let guard = self.postfix.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return;
        }
        let _ = Command::new("/usr/sbin/postqueue")
            .arg("-c")
            .arg(self.dir.join("postfix/etc"))
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn postfix_master_pid(&self) -> Option<u32> {
        read_pid(&self.dir.join("postfix/spool/pid/master.pid"))
    }

    // ---- setup -----------------------------------------------------------------------------

    fn log_file(&self, name: &str) -> fs::File {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log").join(name))
            .unwrap()
    }

    fn dovecot_ssl(&self) -> String {
        match &self.tls {
            None => "ssl = no".into(),
            Some(_) => format!(
                "ssl = yes\nssl_cert = <{d}/tls/server.pem\nssl_key = <{d}/tls/server.key",
                d = self.dir.display()
            ),
        }
    }

    fn imaps_listener(&self) -> String {
        match &self.tls {
            None => "    port = 0".into(),
            Some(t) => format!(
                "    address = 127.0.0.1\n    port = {}\n    ssl = yes",
                t.imaps_port
            ),
        }
    }

    fn smtpd_tls(&self) -> String {
        match &self.tls {
            None => "smtpd_tls_security_level = none".into(),
            Some(_) => format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_chain_files = {d}/tls/server.key, {d}/tls/server.pem",
                d = self.dir.display()
            ),
        }
    }

    fn smtps_service(&self) -> String {
        match &self.tls {
            None => String::new(),
            Some(t) => format!(
                "127.0.0.1:{} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt",
                t.smtps_port
            ),
        }
    }

    fn write_config(&self, domains: &BTreeSet<String>) {
        let dir = &self.dir;
        let (nobody_uid, nobody_gid) = passwd_ids("nobody");
        let (postfix_uid, postfix_gid) = passwd_ids("postfix");
        for sub in [
            "log",
            "dovecot",
            "dovecot/run",
            "dovecot/state",
            "mail",
            "postfix/etc",
            "postfix/spool",
            "postfix/data",
        ] {
            fs::create_dir_all(dir.join(sub)).unwrap();
            fs::set_permissions(dir.join(sub), fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::os::unix::fs::chown(dir.join("mail"), Some(nobody_uid), Some(nobody_gid)).unwrap();
        std::os::unix::fs::chown(
            dir.join("postfix/data"),
            Some(postfix_uid),
            Some(postfix_gid),
        )
        .unwrap();
        fs::set_permissions(dir.join("postfix/data"), fs::Permissions::from_mode(0o700)).unwrap();

        let vars = [
            ("DIR", dir.display().to_string()),
            ("INSTANCE", self.instance_name.clone()),
            ("IMAP_PORT", self.imap_port.to_string()),
            ("LMTP_PORT", self.lmtp_port.to_string()),
            ("SMTP_PORT", self.smtp_port.to_string()),
            ("SUBMISSION_PORT", self.submission_port.to_string()),
            ("SASL_PORT", self.sasl_port.to_string()),
            ("MAIL_UID", nobody_uid.to_string()),
            ("DOVECOT_SSL", self.dovecot_ssl()),
            ("IMAPS_LISTENER", self.imaps_listener()),
            ("SMTPD_TLS", self.smtpd_tls()),
            ("SMTPS_SERVICE", self.smtps_service()),
            ("MAIL_GID", nobody_gid.to_string()),
            (
                "DOMAINS",
                domains.iter().cloned().collect::<Vec<_>>().join(", "),
            ),
        ];
        fs::write(
            dir.join("dovecot/dovecot.conf"),
            config::render(config::DOVECOT_CONF, &vars),
        )
        .unwrap();
        let mut passwd = String::new();
        let mut vmailbox = String::new();
        for (address, password) in &self.users {
            assert!(
                !address.contains(':') && !password.contains(':') && !password.contains('\n'),
                "MailLab: ':' and newlines are not allowed in test users/passwords"
            );
            passwd.push_str(&format!(
                "{}:{{PLAIN}}{password}::::::\n",
                address.to_ascii_lowercase()
            ));
            vmailbox.push_str(&format!("{} ok\n", address.to_ascii_lowercase()));
        }
        fs::write(
            dir.join("dovecot/oauth2.conf.ext"),
            config::render(config::DOVECOT_OAUTH2_CONF, &vars),
        )
        .unwrap();
        // Looked up as `shared/<azp>/<alg>/<kid>`; a token without azp and kid is "default".
        let keys = dir.join("dovecot/oauth2-keys/default/HS256");
        fs::create_dir_all(&keys).unwrap();
        fs::write(keys.join("default"), BASE64.encode(OAUTH2_KEY)).unwrap();
        for d in ["dovecot/oauth2-keys", "dovecot/oauth2-keys/default"] {
            fs::set_permissions(dir.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(keys.join("default"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(dir.join("dovecot/users"), passwd).unwrap();
        fs::set_permissions(dir.join("dovecot/users"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(
            dir.join("postfix/etc/main.cf"),
            config::render(config::POSTFIX_MAIN_CF, &vars),
        )
        .unwrap();
        fs::write(
            dir.join("postfix/etc/master.cf"),
            config::render(config::POSTFIX_MASTER_CF, &vars),
        )
        .unwrap();
        fs::write(dir.join("postfix/etc/vmailbox"), vmailbox).unwrap();
        self.backdate_postfix_config();
    }

    fn backdate_postfix_config(&self) {
        let past = SystemTime::now() - Duration::from_secs(120);
        for name in ["main.cf", "master.cf", "vmailbox"] {
            let f = fs::OpenOptions::new()
                .write(true)
                .open(self.dir.join("postfix/etc").join(name))
                .unwrap();
            f.set_times(fs::FileTimes::new().set_modified(past).set_accessed(past))
                .unwrap();
        }
    }
}

impl Drop for MailLab {
    fn drop(&mut self) {
        self.stop_smtp();
        self.stop_imap();
        if std::thread::panicking() {
            let _ = fs::write(self.dir.join("KEEP"), "test panicked\n");
            announce(&format!(
                "e2e: test {} panicked; mail lab kept for inspection in {}",
                current_test_name(),
                self.dir.display()
            ));
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

// ---- helpers ---------------------------------------------------------------------------------

fn split_address(address: &str) -> (&str, &str) {
    address
        .rsplit_once('@')
        .unwrap_or_else(|| panic!("MailLab: not an address: {address:?}"))
}

fn check_prerequisites() {
    let needed = [
        ("/usr/sbin/dovecot", "dovecot-imapd (pulls dovecot-core)"),
        ("/usr/lib/dovecot/imap", "dovecot-imapd"),
        ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"),
        ("/usr/sbin/postfix", "postfix"),
        ("/usr/lib/postfix/sbin/master", "postfix"),
    ];
    let missing: Vec<String> = needed
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, pkg)| format!("{pkg} (missing {path})"))
        .collect();
    if !missing.is_empty() {
        panic!(
            "MailLab: CLOSELOOP_E2E is set but mail servers are not installed: {}.\n\
             Install with: apt-get install -y dovecot-imapd dovecot-lmtpd postfix \
             (or run tests/run.sh as root, which does it)",
            missing.join(", ")
        );
    }
    let uid = fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    if uid != 0 {
        panic!("MailLab: end-to-end tests must run as root (Postfix refuses to run otherwise); uid is {uid}");
    }
}

/// (uid, gid) of a system user, from /etc/passwd.
fn passwd_ids(user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").expect("MailLab: cannot read /etc/passwd");
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("MailLab: system user {user:?} does not exist (is the package installed?)");
}

/// N distinct free loopback ports, never handed out twice in this process.
/// A CA and a server certificate for `localhost` / 127.0.0.1 under `dir/tls`; returns the
/// CA's PEM file. EC P-256 keys: quick to make.
fn make_certificates(dir: &Path) -> PathBuf {
    let tls = dir.join("tls");
    fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&tls)
            .output()
            .expect(
                "MailLab: the `openssl` command is needed for a TLS lab (apt-get install openssl)",
            );
        assert!(
            out.status.success(),
            "MailLab: openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    fs::write(
        tls.join("server.ext"),
        "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=closeloop lab CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&csr);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    for f in ["server.key", "server.pem", "ca.pem"] {
        fs::set_permissions(tls.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    tls.join("ca.pem")
}

fn free_ports<const N: usize>() -> [u16; N] {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let used = USED.get_or_init(|| Mutex::new(HashSet::new()));
    let mut used = used.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = [0u16; N];
    let mut held = Vec::new();
    for slot in out.iter_mut() {
        loop {
            let l = TcpListener::bind("127.0.0.1:0").expect("MailLab: cannot bind a loopback port");
            let port = l.local_addr().unwrap().port();
            held.push(l); // keep it bound until all N are chosen, so they differ
            if used.insert(port) {
                *slot = port;
                break;
            }
        }
    }
    out
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `kill -s SIG pid`; a negative `pid` string signals a process group.
fn signal(pid: u32, sig: &str) {
    signal_target(&pid.to_string(), sig)
}

fn signal_target(target: &str, sig: &str) {
    let _ = Command::new("/bin/sh")
        .args([
            "-c",
            "kill -s \"$1\" -- \"$2\" 2>/dev/null",
            "sh",
            sig,
            target,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM `pid` (the master; with `group`, its whole process group), wait for our child to
/// exit, SIGKILL after a timeout.
fn terminate(child: &mut Child, pid: u32, group: bool) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    signal_target(&target, "TERM");
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_target(&target, "KILL");
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls until `port` accepts a connection and greets with `greeting`, or the child exits.
fn wait_ready(child: &mut Child, port: u16, greeting: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("process exited with {status}"));
        }
        match greet(port, greeting) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "no greeting on port {port} after {START_TIMEOUT:?}: {e}"
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

fn wait_ready_port(port: u16, greeting: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match greet(port, greeting) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

fn greet(port: u16, greeting: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).map_err(|e| e.to_string())?;
    let got = String::from_utf8_lossy(&buf[..n]).to_string();
    // Be polite so the servers do not log errors.
    let _ = s.write_all(if greeting == "* OK" {
        b"a LOGOUT\r\n"
    } else {
        b"QUIT\r\n"
    });
    if got.starts_with(greeting) {
        Ok(())
    } else {
        Err(format!("unexpected greeting {got:?}"))
    }
}

/// Waits until nothing listens on these ports (child processes may hold a listener briefly).
fn wait_ports_free(ports: &[u16]) {
    let deadline = Instant::now() + STOP_TIMEOUT;
    for &port in ports {
        while TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .is_ok()
        {
            if Instant::now() > deadline {
                panic!("MailLab: port {port} still accepts connections after stopping its server");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .unwrap_or_else(|e| format!("({}: {e})\n", path.display()));
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    out.push('\n');
    out
}

/// Kills servers of labs whose test process died without dropping them (e.g. SIGKILL, Ctrl-C),
/// and removes their dirs (dirs kept after a panic are removed after a day).
fn reap_abandoned_labs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(entries) = fs::read_dir("/tmp") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !name.starts_with(LAB_PREFIX) {
                continue;
            }
            let dir = entry.path();
            let Some(owner) = read_pid(&dir.join("owner.pid")) else {
                continue;
            };
            if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            for pidfile in ["postfix/spool/pid/master.pid", "dovecot/run/master.pid"] {
                if let Some(pid) = read_pid(&dir.join(pidfile)) {
                    // Only a process started for this dir: its command line (Dovecot) or
                    // environment (Postfix's MAIL_CONFIG) names the dir.
                    let dir_s = dir.display().to_string();
                    let is_ours = ["cmdline", "environ"].iter().any(|f| {
                        fs::read(format!("/proc/{pid}/{f}"))
                            .map(|c| String::from_utf8_lossy(&c).contains(&dir_s))
                            .unwrap_or(false)
                    });
                    if is_ours {
                        signal_target(&format!("-{pid}"), "TERM"); // its process group
                        signal(pid, "TERM");
                    }
                }
            }
            let old = fs::metadata(dir.join("KEEP"))
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(86400))
                .unwrap_or(true);
            if old {
                let _ = fs::remove_dir_all(&dir);
            }
        }
    });
}
