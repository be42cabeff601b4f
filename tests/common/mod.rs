//! Shared helpers for the in-process and binary tests: a temp deployment with a
//! real SQLite file, message builders, and fake-but-well-shaped secrets built
//! at run time (so the repository holds nothing a secret scanner would flag).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use closeloop::config::Config;
use closeloop::context::Context;

pub mod pg;
#[allow(unused_imports)]
pub(crate) use pg::on_both_backends;
pub use pg::Backend;

pub const DAY: i64 = 86_400_000;
/// 2026-11-02T10:00:00Z
pub const T0: i64 = 1_793_613_600_000;

/// A deployment in a temp dir: database (a SQLite file, or a fresh PostgreSQL
/// database dropped at the end), key, Maildir, file outbox.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub cfg: Config,
    pub backend: Backend,
    /// The fresh PostgreSQL database, dropped with the deployment.
    pub pg: Option<pg::TestDb>,
}

pub fn config_text(dir: &Path, auth: &str, extra: &str) -> String {
    config_text_with(
        &format!("sqlite://{}/closeloop.db", dir.display()),
        dir,
        auth,
        extra,
    )
}

pub fn config_text_with(db_url: &str, dir: &Path, auth: &str, extra: &str) -> String {
    format!(
        r#"[database]
url = "{db_url}"
[intake]
kind = "maildir"
dir = "{d}/maildir"
allowed_domains = ["example.org"]
max_message_bytes = 200000
[outbound]
kind = "file"
dir = "{d}/letters"
from = "security@example.org"
[responders]
addresses = ["lead@example.org", "oncall@example.org"]
auth = "{auth}"
trusted_authserv_id = "mx.example.org"
[letters]
org_name = "Example Security"
[secrets]
key_file = "{d}/closeloop.key"
[http]
listen = ""
{extra}
"#,
        d = dir.display()
    )
}

impl Deployment {
    /// A SQLite deployment.
    pub fn new(auth: &str) -> Deployment {
        Deployment::on(Backend::Sqlite, auth, "")
    }

    pub fn with(auth: &str, extra: &str) -> Deployment {
        Deployment::on(Backend::Sqlite, auth, extra)
    }

    /// A deployment on `backend`; on PostgreSQL with a database of its own.
    pub fn on(backend: Backend, auth: &str, extra: &str) -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/closeloop.db", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let db = pg::TestDb::create();
                (db.url.clone(), Some(db))
            }
        };
        let text = config_text_with(&url, dir.path(), auth, extra);
        let config_path = dir.path().join("closeloop.toml");
        std::fs::write(&config_path, &text).unwrap();
        let cfg = Config::from_toml(&config_path, &text, std::iter::empty()).unwrap();
        Deployment {
            dir,
            config_path,
            cfg,
            backend,
            pg,
        }
    }

    pub async fn ctx(&self) -> Context {
        closeloop::cli::open(&self.cfg).await.unwrap()
    }

    /// Runs the real binary with this deployment's config.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_bin(&self.config_path, args, stdin, &[])
    }
}

pub fn run_bin(config: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_closeloop"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("CLOSELOOP_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// A plain message. `headers` are extra `Name: value` lines.
pub fn email(from: &str, subject: &str, message_id: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str(&format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ));
    s.push_str(&body.replace('\n', "\r\n"));
    s.into_bytes()
}

/// A responder's reply with a trusted DMARC pass on top.
pub fn reply(from: &str, case: &str, message_id: &str, body: &str) -> Vec<u8> {
    let domain = from.rsplit('@').next().unwrap();
    email(
        from,
        &format!("Re: report [{case}]"),
        message_id,
        &[&format!(
            "Authentication-Results: mx.example.org; dmarc=pass header.from={domain}"
        )],
        body,
    )
}

/// Deterministic fake tokens.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn s(&mut self, n: usize, alphabet: &str) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }
}

pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const UPNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const HEX: &str = "0123456789abcdef";
pub const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A planted secret: its expected kind, the plaintext, and a line that carries it.
pub struct Planted {
    pub kind: &'static str,
    pub secret: String,
    pub line: String,
}

/// One realistic secret of every kind the detector knows.
pub fn planted(seed: u64) -> Vec<Planted> {
    let mut r = Rng::new(seed);
    let mut v = Vec::new();
    let mut add =
        |kind: &'static str, secret: String, line: String| v.push(Planted { kind, secret, line });
    let akid = format!("{}{}", "AKIA", r.s(16, UPNUM));
    add(
        "aws-access-key-id",
        akid.clone(),
        format!("export AWS_ACCESS_KEY_ID={akid}"),
    );
    let sak = r.s(40, B64);
    add(
        "aws-secret-access-key",
        sak.clone(),
        format!("aws_secret_access_key = {sak}"),
    );
    let ghp = format!("{}{}", "ghp_", r.s(36, ALNUM));
    add("github-pat", ghp.clone(), format!("GITHUB_TOKEN={ghp}"));
    let gfg = format!("{}{}_{}", "github_pat_", r.s(22, ALNUM), r.s(59, ALNUM));
    add(
        "github-fine-grained-pat",
        gfg.clone(),
        format!("token: {gfg}"),
    );
    let glpat = format!("{}{}", "glpat-", r.s(20, ALNUM));
    add("gitlab-pat", glpat.clone(), format!("CI_TOKEN={glpat}"));
    let xoxb = format!(
        "{}{}-{}-{}",
        "xoxb-",
        r.s(12, "0123456789"),
        r.s(13, "0123456789"),
        r.s(24, ALNUM)
    );
    add(
        "slack-token",
        xoxb.clone(),
        format!("slack bot token {xoxb}"),
    );
    let hook = format!("T{}/B{}/{}", r.s(10, UPNUM), r.s(10, UPNUM), r.s(24, ALNUM));
    add(
        "slack-webhook",
        hook.clone(),
        format!("curl https://hooks.slack.com/services/{hook}"),
    );
    let stripe = format!("{}{}", "sk_live_", r.s(24, ALNUM));
    add(
        "stripe-secret-key",
        stripe.clone(),
        format!("STRIPE_KEY={stripe}"),
    );
    let sg = format!("{}{}.{}", "SG.", r.s(22, ALNUM), r.s(43, ALNUM));
    add(
        "sendgrid-api-key",
        sg.clone(),
        format!("SENDGRID_API_KEY={sg}"),
    );
    let openai = format!("{}{}", "sk-proj-", r.s(48, ALNUM));
    add(
        "openai-api-key",
        openai.clone(),
        format!("OPENAI_API_KEY={openai}"),
    );
    let anth = format!("{}{}", "sk-ant-api03-", r.s(80, ALNUM));
    add(
        "anthropic-api-key",
        anth.clone(),
        format!("ANTHROPIC_API_KEY={anth}"),
    );
    let gkey = format!("{}{}", "AIza", r.s(35, ALNUM));
    add("google-api-key", gkey.clone(), format!("maps key {gkey}"));
    let pw = format!("{}{}", r.s(10, ALNUM), "9x!Q");
    add(
        "url-password",
        pw.clone(),
        format!("DATABASE_URL=postgres://app:{pw}@db.internal:5432/prod"),
    );
    let generic = r.s(32, ALNUM);
    add(
        "generic-secret",
        generic.clone(),
        format!("client_secret = \"{generic}\""),
    );
    // Passwords known by where they are written: SQL, a setter call, a sentence.
    let sql_pw = format!("{}#{}", r.s(9, ALNUM), r.s(5, ALNUM));
    add(
        "generic-secret",
        sql_pw.clone(),
        format!("CREATE USER 'orders'@'%' IDENTIFIED BY '{sql_pw}';"),
    );
    let wp_pw = format!("{}!{}", r.s(8, ALNUM), r.s(6, ALNUM));
    add(
        "generic-secret",
        wp_pw.clone(),
        format!("define( 'DB_PASSWORD', '{wp_pw}' );"),
    );
    let said_pw = format!("{}-{}", r.s(7, ALNUM), r.s(7, ALNUM));
    add(
        "generic-secret",
        said_pw.clone(),
        format!("the password for svc-backup is now {said_pw}, please rotate it"),
    );
    // A password told in another language.
    let de_pw = format!("{}7{}", r.s(8, ALNUM), r.s(4, ALNUM));
    add(
        "generic-secret",
        de_pw.clone(),
        format!("Das Passwort für svc-backup ist jetzt {de_pw}, bitte ändern"),
    );
    // A vendor's key under a name that says only `_KEY`.
    let named_key = r.s(32, HEX);
    add(
        "generic-secret",
        named_key.clone(),
        format!("DATADOG_KEY={named_key}"),
    );
    let twilio = format!("{}{}", "SK", r.s(32, HEX));
    add(
        "twilio-api-key",
        twilio.clone(),
        format!("TWILIO_API_KEY={twilio}"),
    );
    // Tokens known by their prefix alone, in prose: no name says what they are.
    for (kind, secret) in [
        ("npm-token", format!("{}{}", "npm_", r.s(36, ALNUM))),
        (
            "pypi-token",
            format!("{}{}", "pypi-AgEIcHlwaS5vcmc", r.s(120, ALNUM)),
        ),
        ("docker-pat", format!("{}{}", "dckr_pat_", r.s(27, ALNUM))),
        ("vault-token", format!("{}{}", "hvs.", r.s(90, ALNUM))),
        ("huggingface-token", format!("{}{}", "hf_", r.s(34, ALNUM))),
        (
            "digitalocean-token",
            format!("{}{}", "dop_v1_", r.s(64, HEX)),
        ),
        ("shopify-token", format!("{}{}", "shpat_", r.s(32, HEX))),
        (
            "gcp-oauth-client-secret",
            format!("{}{}", "GOCSPX-", r.s(28, ALNUM)),
        ),
        (
            "telegram-bot-token",
            format!("{}:{}{}", r.s(10, "0123456789"), "AA", r.s(33, ALNUM)),
        ),
        ("databricks-token", format!("{}{}", "dapi", r.s(32, HEX))),
        ("mailgun-api-key", format!("{}{}", "key-", r.s(32, HEX))),
        (
            "azure-client-secret",
            format!("{}8Q~{}", r.s(3, ALNUM), r.s(34, ALNUM)),
        ),
        (
            "atlassian-api-token",
            format!(
                "{}{}={}",
                "ATATT3xFfGF0",
                r.s(171, ALNUM),
                r.s(8, "0123456789ABCDEF")
            ),
        ),
        (
            "discord-bot-token",
            format!(
                "{}.{}.{}",
                "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA",
                r.s(6, ALNUM),
                r.s(27, ALNUM)
            ),
        ),
        ("gitlab-token", format!("{}{}", "glrt-", r.s(20, ALNUM))),
        (
            "linear-api-key",
            format!("{}{}", "lin_api_", r.s(40, ALNUM)),
        ),
        ("sentry-token", format!("{}{}", "sntryu_", r.s(64, HEX))),
        (
            "grafana-token",
            format!("{}{}_{}", "glsa_", r.s(32, ALNUM), r.s(8, HEX)),
        ),
        (
            "new-relic-key",
            format!(
                "{}{}",
                "NRAK-",
                r.s(27, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            ),
        ),
        (
            "postman-api-key",
            format!("{}{}-{}", "PMAK-", r.s(24, HEX), r.s(34, HEX)),
        ),
        (
            "terraform-cloud-token",
            format!("{}.{}.{}", r.s(14, ALNUM), "atlasv1", r.s(67, ALNUM)),
        ),
        ("doppler-token", format!("{}{}", "dp.st.", r.s(43, ALNUM))),
        (
            "planetscale-token",
            format!("{}{}", "pscale_tkn_", r.s(43, ALNUM)),
        ),
        ("pulumi-token", format!("{}{}", "pul-", r.s(40, HEX))),
        (
            "age-secret-key",
            format!(
                "{}{}",
                "AGE-SECRET-KEY-1",
                r.s(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
            ),
        ),
        (
            "tailscale-key",
            format!(
                "{}{}CNTRL-{}",
                "tskey-auth-k",
                r.s(10, ALNUM),
                r.s(32, ALNUM)
            ),
        ),
        ("jfrog-token", format!("{}{}", "AKCp", r.s(69, ALNUM))),
        (
            "stripe-webhook-secret",
            format!("{}{}", "whsec_", r.s(32, ALNUM)),
        ),
        ("heroku-api-key", format!("{}{}", "HRKU-AA", r.s(58, ALNUM))),
        ("groq-api-key", format!("{}{}", "gsk_", r.s(52, ALNUM))),
        ("perplexity-api-key", format!("{}{}", "pplx-", r.s(48, ALNUM))),
        (
            "notion-token",
            format!("{}{}{}", "ntn_", r.s(11, "0123456789"), r.s(35, ALNUM)),
        ),
        ("flyio-token", format!("{}{}", "fm2_", r.s(140, B64))),
        ("openshift-token", format!("{}{}", "sha256~", r.s(43, ALNUM))),
        (
            "dynatrace-token",
            format!("{}{}.{}", "dt0c01.", r.s(24, ALNUM), r.s(64, ALNUM)),
        ),
        ("prefect-token", format!("{}{}", "pnu_", r.s(36, ALNUM))),
        ("sonarqube-token", format!("{}{}", "sqp_", r.s(40, HEX))),
        ("buildkite-token", format!("{}{}", "bkua_", r.s(40, HEX))),
        ("supabase-token", format!("{}{}", "sbp_", r.s(40, HEX))),
        ("xai-api-key", format!("{}{}", "xai-", r.s(80, ALNUM))),
        ("replicate-token", format!("{}{}", "r8_", r.s(37, ALNUM))),
        ("google-oauth-token", format!("{}{}", "ya29.a0", r.s(150, ALNUM))),
        ("square-token", format!("{}{}", "EAAA", r.s(60, ALNUM))),
        ("facebook-access-token", format!("{}{}", "EAAG", r.s(180, ALNUM))),
        ("brevo-api-key", format!("{}{}-{}", "xkeysib-", r.s(64, HEX), r.s(16, ALNUM))),
        ("alibaba-access-key-id", format!("{}{}", "LTAI", r.s(20, ALNUM))),
        ("tencent-secret-id", format!("{}{}", "AKID", r.s(32, ALNUM))),
        ("mapbox-token", format!("{}{}.{}", "sk.eyJ1Ijoi", r.s(60, ALNUM), r.s(22, ALNUM))),
        ("figma-token", format!("{}{}", "figd_", r.s(40, ALNUM))),
        ("netlify-token", format!("{}{}", "nfp_", r.s(36, ALNUM))),
        ("rubygems-api-key", format!("{}{}", "rubygems_", r.s(48, HEX))),
        ("nuget-api-key", format!("{}{}", "oy2", r.s(43, "abcdefghijklmnopqrstuvwxyz0123456789"))),
        ("shippo-token", format!("{}{}", "shippo_live_", r.s(40, HEX))),
        ("flutterwave-secret-key", format!("{}{}-X", "FLWSECK-", r.s(32, HEX))),
        ("langsmith-api-key", format!("{}{}_{}", "lsv2_pt_", r.s(32, HEX), r.s(10, HEX))),
        ("pinecone-api-key", format!("{}{}_{}", "pcsk_", r.s(6, ALNUM), r.s(64, ALNUM))),
        ("discord-webhook", format!("{}{}/{}", "https://discord.com/api/webhooks/", r.s(19, "0123456789"), r.s(68, ALNUM))),
        ("teams-webhook", format!("{}{}@{}/IncomingWebhook/{}/{}", "https://acme.webhook.office.com/webhookb2/", "9e2f6a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b", "72f988bf-86f1-41af-91ab-2d7cd011db47", r.s(32, HEX), "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d")),
        ("neon-api-key", format!("{}{}", "napi_", r.s(64, "abcdefghijklmnopqrstuvwxyz0123456789"))),
        ("clojars-token", format!("{}{}", "CLOJARS_", r.s(60, "abcdefghijklmnopqrstuvwxyz0123456789"))),
        ("readme-api-key", format!("{}{}", "rdme_", r.s(70, "abcdefghijklmnopqrstuvwxyz0123456789"))),
        ("dropbox-token", format!("{}{}", "sl.", r.s(138, ALNUM))),
        ("easypost-api-key", format!("{}{}", "EZAK", r.s(54, ALNUM))),
        ("frameio-token", format!("{}{}", "fio-u-", r.s(64, ALNUM))),
        ("typeform-token", format!("{}{}_{}", "tfp_", r.s(44, ALNUM), r.s(14, ALNUM))),
        ("cloudflare-origin-ca-key", format!("{}{}-{}", "v1.0-", r.s(24, HEX), r.s(146, HEX))),
        ("render-api-key", format!("{}{}", "rnd_", r.s(32, ALNUM))),
        ("contentful-token", format!("{}{}", "CFPAT-", r.s(43, ALNUM))),
        ("duffel-token", format!("{}{}", "duffel_live_", r.s(43, ALNUM))),
        ("mailchimp-api-key", format!("{}{}", r.s(32, HEX), "-us14")),
        ("scalingo-token", format!("{}{}", "tk-us-", r.s(48, ALNUM))),
        ("twitter-bearer-token", format!("{}{}%2B{}%3D{}", "AAAAAAAAAAAAAAAAAAAAA", r.s(24, ALNUM), r.s(8, ALNUM), r.s(50, ALNUM))),
        ("yandex-api-key", format!("{}{}", "AQVN", r.s(36, ALNUM))),
        ("bitbucket-app-password", format!("{}{}", "ATBB", r.s(32, ALNUM))),
        ("firebase-fcm-key", format!("{}{}:APA91b{}", "AAAA", r.s(7, ALNUM), r.s(134, ALNUM))),
        ("adobe-client-secret", format!("{}{}", "p8e-", r.s(32, ALNUM))),
        ("openrouter-api-key", format!("{}{}", "sk-or-v1-", r.s(64, HEX))),
        ("aws-bedrock-api-key", format!("{}{}", "ABSK", r.s(132, B64))),
        (
            "harness-token",
            format!("{}{}.{}.{}", "pat.", r.s(22, ALNUM), r.s(24, ALNUM), r.s(20, ALNUM)),
        ),
        (
            "private-key",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
                    r.s(64, B64)
                ),
            ),
        ),
        (
            "gcp-service-account-key",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!(
                    "{{\"type\": \"service_account\", \"private_key_id\": \"{}\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"}}",
                    r.s(40, HEX),
                    r.s(64, B64)
                ),
            ),
        ),
    ] {
        let line = format!("found {secret} in the deploy log");
        add(kind, secret, line);
    }
    // A signed link's signature: the secret is part of the link.
    let sig = r.s(64, HEX);
    let line = format!(
        "the export link https://acme-exports.s3.amazonaws.com/q3.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host&X-Amz-Signature={sig} still works"
    );
    add("signed-url-signature", sig, line);
    // A key known by its service's signature alone (Azure AI services'), bare.
    let azure = format!(
        "{}JQQJ99BLAC{}XJ3w3AAABACOG{}",
        r.s(52, ALNUM),
        r.s(5, ALNUM),
        r.s(4, ALNUM)
    );
    let line = format!("the speech client still uses {azure} in prod");
    add("azure-api-key", azure, line);
    // A password told as set, in prose.
    let reset_pw = format!("{}4{}", r.s(8, ALNUM), r.s(5, ALNUM));
    let line = format!("I reset the svc-backup password to {reset_pw} this morning");
    add("generic-secret", reset_pw, line);
    v
}

/// The GitHub token of `planted(seed)`: the secret most tests plant.
pub fn planted_github_pat(seed: u64) -> Planted {
    planted(seed)
        .into_iter()
        .find(|p| p.kind == "github-pat")
        .unwrap()
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
