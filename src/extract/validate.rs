//! Value heuristics for the extract rules: Shannon entropy, placeholder detection,
//! per-kind validators and a small base64 decoder.
//!
//! Pure functions over candidate values only; they never see offsets or the whole text
//! and must not log, print or keep values. Rule definitions live in `rules.rs`.

// ---------------------------------------------------------------------------------

/// Shannon entropy in bits per byte.
pub(super) fn entropy(s: &str) -> f64 {
    let b = s.as_bytes();
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &x in b {
        counts[x as usize] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn distinct(s: &str) -> usize {
    let mut seen = [false; 256];
    s.bytes()
        .filter(|&b| !std::mem::replace(&mut seen[b as usize], true))
        .count()
}

/// Markers of a placeholder, found inside a value: each counts written in one case
/// ("xxxxxx", "YOUR_", "_here"): a random token holds mixed-case look-alikes by chance,
/// and one taken for a placeholder is stored in plaintext (one random GitHub token in
/// ~28,000 held "xXxX", or "hEre" after its "ghp_").
const PLACEHOLDER_MARKERS: &[&str] = &[
    "xxxxxx",
    "****",
    "••",
    "…",
    "...",
    "redacted",
    "changeme",
    "change_me",
    "change-me",
    "your_",
    "your-",
    "yourtoken",
    "yourkey",
    "yoursecret",
    "yourpass",
    "placeholder",
    "example",
    "dummy",
    "sample",
    // a template's `<%= … %>` (a word in angle brackets: `angle_template`)
    "<%",
    "${",
    "{{",
    "}}",
    "%(",
    "%s",
    "replace_me",
    "replaceme",
    "replace-me",
    "insert_",
    "insert-",
    "_here",
    "-here",
    "notreal",
    "not_real",
    "not-real",
    "12345678",
    "abcdefgh",
    "qwerty",
    "0000000",
    // prose in quotes on a command line (`sshpass -p "your password here"`); no token
    // holds a space, so a capital is safe here
    "your ",
    "Your ",
    " here",
];

/// The markers in lower and in upper case, searched for at once: every candidate value
/// is checked, and one search beats eighty `contains` (which allocated an upper-case
/// copy of each marker every time).
static MARKERS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    let both = PLACEHOLDER_MARKERS
        .iter()
        .flat_map(|m| [m.to_string(), m.to_ascii_uppercase()]);
    aho_corasick::AhoCorasick::new(both).expect("placeholder markers build")
});

/// Whether `v` holds a word in angle brackets (`<password>`, `<YOUR TOKEN>`, `</td>`): a
/// placeholder or markup. A lone `<` or `>` is a character of a password like any other
/// (WordPress's generated keys hold them).
fn angle_template(v: &str) -> bool {
    v.split('<').skip(1).any(|after| {
        after.split_once('>').is_some_and(|(inside, _)| {
            inside.bytes().any(|c| c.is_ascii_alphabetic())
                && inside
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_-. /".contains(&c))
        })
    })
}

/// Obvious placeholders, examples and already-masked values.
pub(super) fn is_placeholder(v: &str) -> bool {
    const WHOLE: &[&str] = &[
        "password",
        "secret",
        "token",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "empty",
        "required",
        "optional",
        "string",
        "hidden",
        "masked",
        "unset",
        "default",
        "passw0rd",
        "letmein",
        "admin",
    ];
    if MARKERS.is_match(v) || WHOLE.iter().any(|w| w.eq_ignore_ascii_case(v)) || angle_template(v) {
        return true;
    }
    // low-diversity runs such as "aaaaaaaa" or "abababab"
    v.len() >= 4 && distinct(v) <= 3
}

pub(super) fn token_ok(v: &str) -> bool {
    !is_placeholder(v) && entropy(v) >= 3.0 && distinct(v) >= 8
}

/// An X (Twitter) app's bearer token is URL-escaped base64: it holds a `%` escape, which a
/// run of `A`s in a base64 blob does not.
pub(super) fn twitter_bearer_ok(v: &str) -> bool {
    v.contains('%') && token_ok(v)
}

/// A network device's type-7 string: two decimal digits (the salt's index), then hex.
pub(super) fn cisco_type7_ok(v: &str) -> bool {
    v.len().is_multiple_of(2)
        && v.as_bytes()
            .get(..2)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
        && distinct(v) >= 4
}

/// An SNMP community other than the defaults every device knows.
pub(super) fn snmp_community_ok(v: &str) -> bool {
    !["public", "private"].contains(&v.to_ascii_lowercase().as_str()) && url_password_ok(v)
}

pub(super) fn aws_key_id_ok(v: &str) -> bool {
    !v.ends_with("EXAMPLE") && !is_placeholder(v) && entropy(&v[4..]) >= 2.8
}

pub(super) fn aws_secret_ok(v: &str) -> bool {
    let has = |f: fn(&u8) -> bool| v.as_bytes().iter().any(f);
    let classes = has(u8::is_ascii_uppercase) as u8
        + has(u8::is_ascii_lowercase) as u8
        + has(u8::is_ascii_digit) as u8;
    v.len() == 40
        && !v.contains("EXAMPLE")
        && !is_placeholder(v)
        && !v.bytes().all(|b| b.is_ascii_hexdigit())
        && classes >= 3
        && entropy(v) >= 4.0
}

pub(super) fn slack_ok(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit()) && token_ok(v)
}

pub(super) fn openai_ok(v: &str) -> bool {
    let body = v.strip_prefix("sk-").unwrap_or(v);
    let sub = ["proj-", "svcacct-", "admin-"]
        .iter()
        .find_map(|p| body.strip_prefix(p));
    // legacy keys are plain alphanumerics; project/service keys are long base64url
    let shaped = match sub {
        Some(b) => b.len() >= 40,
        None => {
            body.contains("T3BlbkFJ")
                || (body.len() >= 32 && body.bytes().all(|c| c.is_ascii_alphanumeric()))
        }
    };
    let body = sub.unwrap_or(body);
    shaped
        && !body.starts_with("ant-")
        && body.bytes().any(|b| b.is_ascii_digit())
        && body.bytes().any(|b| b.is_ascii_alphabetic())
        && entropy(body) >= 3.5
        && !is_placeholder(v)
}

pub(super) fn jwt_ok(v: &str) -> bool {
    let header = v.split('.').next().unwrap_or("");
    match b64_decode(header) {
        Some(h) => {
            let h = String::from_utf8_lossy(&h);
            (h.contains("\"alg\"") || h.contains("\"typ\"") || h.contains("\"kid\""))
                && !is_placeholder(v)
        }
        None => false,
    }
}

/// Base64 that decodes to the header of a PEM private key (`-----BEGIN … PRIVATE KEY-----`).
pub(super) fn b64_private_key_ok(v: &str) -> bool {
    let head = &v[..v.len().min(64) / 4 * 4];
    b64_decode(head).is_some_and(|d| {
        let line = d.split(|&b| b == b'\n').next().unwrap_or(&[]);
        line.starts_with(b"-----BEGIN ") && line.windows(11).any(|w| w == b"PRIVATE KEY")
    })
}

/// Base64 decoded to UTF-8 text.
fn b64_text(v: &str) -> Option<String> {
    b64_decode(v).and_then(|d| String::from_utf8(d).ok())
}

/// The password of a `user:password` pair (HTTP Basic, a Docker config's `auth`), when
/// the pair holds no control character.
fn basic_password(plain: &str) -> Option<&str> {
    if plain.chars().any(char::is_control) {
        return None;
    }
    plain.split_once(':').map(|(_, pw)| pw)
}

/// SASL PLAIN's message in base64: `authzid\0user\0password`, the password a password.
pub(super) fn b64_sasl_plain_ok(v: &str) -> bool {
    b64_text(v).is_some_and(|plain| {
        let parts: Vec<&str> = plain.split('\0').collect();
        parts.len() == 3
            && plain.chars().all(|c| c == '\0' || !c.is_control())
            && url_password_ok(parts[2])
    })
}

/// A password in base64, as SMTP's `AUTH LOGIN` sends it.
pub(super) fn b64_password_ok(v: &str) -> bool {
    b64_text(v).is_some_and(|pw| !pw.chars().any(char::is_control) && url_password_ok(&pw))
}

/// Base64 of `user:password` (a Docker config's `auth`) with a password worth hiding.
pub(super) fn b64_login_ok(v: &str) -> bool {
    b64_text(v).is_some_and(|plain| basic_password(&plain).is_some_and(url_password_ok))
}

/// Base64 of a Docker config holding a registry login: an `"auth"` of `user:password`
/// or a `"password"` worth hiding (of as much as is there: a wrapped line is a start).
pub(super) fn b64_docker_config_ok(v: &str) -> bool {
    let Some(plain) = b64_decode(&v[..v.len() / 4 * 4]) else {
        return false;
    };
    let plain = String::from_utf8_lossy(&plain);
    json_strings(&plain, "\"auth\"").any(b64_login_ok)
        || json_strings(&plain, "\"password\"").any(|pw| !pw.is_empty() && url_password_ok(pw))
}

/// The string values of a JSON object's members named `name` (quoted), read as written
/// (escapes kept), in a text that may be cut short.
fn json_strings<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(name).filter_map(move |(i, _)| {
        let rest = text[i + name.len()..].trim_start().strip_prefix(':')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        Some(&rest[..rest.find('"')?])
    })
}

/// A Discord bot token starts with its bot's user id, 17 to 20 digits, in base64.
pub(super) fn discord_ok(v: &str) -> bool {
    let id = v.split('.').next().unwrap_or("");
    b64_decode(id).is_some_and(|d| {
        (17..=20).contains(&d.len()) && d[0] != b'0' && d.iter().all(u8::is_ascii_digit)
    }) && token_ok(v)
}

pub(super) fn bearer_ok(v: &str) -> bool {
    // Basic credentials: judge the decoded password
    if let Some(plain) = b64_text(v) {
        if let Some(pw) = basic_password(&plain) {
            return url_password_ok(pw) && pw.len() >= 4;
        }
    }
    !is_placeholder(v) && entropy(v) >= 3.0 && distinct(v) >= 8
}

pub(super) fn bearer_loose_ok(v: &str) -> bool {
    bearer_ok(v)
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
}

/// A template's field standing for a value: `{password}`, `{0}`.
fn is_template_field(v: &str) -> bool {
    v.starts_with('{') && v.ends_with('}')
}

pub(super) fn url_password_ok(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    const BAD: &[&str] = &[
        "pass",
        "passwd",
        "pwd",
        "pw",
        "p",
        "x",
        "user",
        "username",
        "guest",
        "anonymous",
        "root",
        "test",
        // Java's trust store ships with it, MinIO with the other.
        "changeit",
        "minioadmin",
        // an answer piped to a prompt (`echo y | sudo -S …`)
        "y",
        "yes",
        "n",
        "no",
    ];
    let port_like = v.len() <= 5 && v.bytes().all(|b| b.is_ascii_digit());
    // `$VAR`, `%VAR%`, and a template's `{password}`
    let reference = v.starts_with(['$', '%']) || is_template_field(v);
    !(is_placeholder(v) || BAD.contains(&lower.as_str()) || reference || port_like)
}

/// A switch's value (`--password VALUE`): one with spaces, which only quotes hold, is a
/// passphrase unless it is a placeholder or a reference (`"your password here"`,
/// `"$(cat pw.txt)"`); any other is checked as a generic value.
pub(super) fn switch_value_ok(v: &str) -> bool {
    if v.chars().any(char::is_whitespace) {
        v.chars().count() >= 8 && url_password_ok(v)
    } else {
        generic_value_ok(v)
    }
}

/// A password given to a tool that also takes a file of them in its place
/// (`crackmapexec … -p passwords.txt`): as in a URL, and no path nor list file.
pub(super) fn password_not_file_ok(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let file = v.starts_with(['/', '~'])
        || v.starts_with("./")
        || v.starts_with(".\\")
        || [".txt", ".lst", ".list", ".dic", ".csv"]
            .iter()
            .any(|ext| lower.ends_with(ext));
    url_password_ok(v) && !file
}

/// A password in SQL (`IDENTIFIED BY …`): as in a URL, and not MySQL's `IDENTIFIED BY
/// RANDOM PASSWORD` nor Oracle's `IDENTIFIED BY VALUES 'hash'`.
pub(super) fn sql_password_ok(v: &str) -> bool {
    url_password_ok(v) && !["random", "values"].contains(&v.to_ascii_lowercase().as_str())
}

pub(super) fn entropic_ok(v: &str) -> bool {
    !is_placeholder(v) && entropy(v) >= 3.5
}

pub(super) fn identity_ok(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    ![
        "example",
        "your-",
        "your_",
        "project-id",
        "project_id",
        "xxxx",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

pub(super) fn guid_ok(v: &str) -> bool {
    let hex: String = v.chars().filter(|c| *c != '-').collect();
    distinct(&hex.to_ascii_lowercase()) >= 5 && !is_placeholder(v)
}

/// Names such as `password_file`, `token_url`, `max_tokens` do not hold secrets.
pub(super) fn generic_name_ok(name: &str) -> bool {
    const BAD_SUFFIX: &[&str] = &[
        "file",
        "path",
        "url",
        "uri",
        "endpoint",
        "type",
        "length",
        "len",
        "hint",
        "name",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "count",
        "size",
        "format",
        "field",
        "header",
        "policy",
        "min",
        "max",
        "enabled",
        "required",
        "reset",
        "changed",
        "prompt",
        "label",
        "help",
        "placeholder",
        "provider",
        "store",
        "manager",
        "tokens",
        "limit",
        "version",
        "id_key",
    ];
    // `…_KEY` names of a public key, a key's id or a key that looks a thing up
    const NOT_SECRET_KEY: &[&str] = &[
        "public",
        "pub",
        "publishable",
        "anon",
        "site",
        "host",
        "gpg",
        "pgp",
        "kms",
        "primary",
        "foreign",
        "sort",
        "partition",
        "cache",
        "hash",
        "range",
        "idempotency",
        "dedup",
        "object",
        "s3",
        "lookup",
        "translation",
        "i18n",
        "registry",
    ];
    let lower = name.to_ascii_lowercase();
    let mut words = lower.rsplit(['_', '-', '.']);
    let last = words.next().unwrap_or(&lower);
    if last == "key" && words.next().is_some_and(|w| NOT_SECRET_KEY.contains(&w)) {
        return false;
    }
    !BAD_SUFFIX.contains(&last) && !lower.starts_with("max_") && !lower.starts_with("num_")
}

/// The value of a name that says only `…_KEY` (`STRIPE_KEY`, `SIGNING_KEY`): such names
/// also hold ids, paths and lookup keys, so the value must look like a key itself: 16
/// or more characters of base64 or hex (no `.`, `:` or `\`: no path, ARN or name), not
/// a GUID (an id), random-looking.
pub(super) fn named_key_value_ok(v: &str) -> bool {
    let b = v.as_bytes();
    let guid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    b.len() >= 16
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=_-".contains(c))
        && !guid
        && entropic_ok(v)
        && generic_value_ok(v)
}

/// High-entropy, non-placeholder value of a `name = value` assignment.
/// The longest value of a generic assignment (`token = "…"`) taken for a secret; a
/// longer one is prose or data.
const GENERIC_VALUE_MAX_CHARS: usize = 500;

pub(super) fn generic_value_ok(v: &str) -> bool {
    let n = v.chars().count();
    if !(8..=GENERIC_VALUE_MAX_CHARS).contains(&n)
        || v.chars().any(char::is_whitespace)
        || is_placeholder(v)
    {
        return false;
    }
    if v.contains("://") || v.starts_with(['/', '~']) || v.starts_with("./") || v.starts_with(".\\")
    {
        return false;
    }
    // variable references: $VAR, ${VAR}, %VAR%, @VAR
    let ident = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_{}().".contains(&c))
    };
    if (v.starts_with(['$', '@']) && ident(&v[1..]))
        || (v.starts_with('%') && v.ends_with('%'))
        || is_template_field(v)
    {
        return false;
    }
    let b = v.as_bytes();
    let digit = b.iter().any(u8::is_ascii_digit);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let symbol = b.iter().any(|c| !c.is_ascii_alphanumeric());
    let classes = digit as u8 + upper as u8 + lower as u8 + symbol as u8;
    let e = entropy(v);
    // short values cannot reach high entropy: scale the bar with length (8 chars: 2.55)
    let bar = (0.85 * (n as f64).log2()).min(3.0);
    if classes < 2 || e < bar || distinct(v) < 6 {
        return false;
    }
    if b.iter().all(u8::is_ascii_hexdigit) && n < 16 {
        return false;
    }
    // identifiers and code references: env.DB_PASSWORD, settings.secretKey, someValue
    if !digit
        && b.iter()
            .all(|c| c.is_ascii_alphabetic() || b"._-".contains(c))
        && (n < 20 || e < 4.0)
    {
        return false;
    }
    // dotted code references with digits are rare; versions like 1.2.3-beta are not secrets
    if b.iter().all(|c| c.is_ascii_digit() || b".-".contains(c)) {
        return false;
    }
    // dotted code references: process.env.JWT_SECRET, config.aws.accessKeyId
    let ident_seg = |seg: &str| {
        seg.bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'$')
            && seg
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
    };
    let few_digits = b.iter().filter(|c| c.is_ascii_digit()).count() <= 2;
    if v.contains('.') && v.split('.').all(ident_seg) && few_digits {
        return false;
    }
    // paths of Rust and C++: crate::uid_t, std::string
    if v.contains("::") && v.split("::").all(ident_seg) && few_digits {
        return false;
    }
    // dates, times, versions, IPs: almost no letters
    if b.iter().filter(|c| c.is_ascii_alphabetic()).count() <= 2
        && n < 24
        && !b.iter().all(u8::is_ascii_hexdigit)
    {
        return false;
    }
    // e-mail addresses
    if let Some((local, domain)) = v.split_once('@') {
        if !local.is_empty()
            && domain.contains('.')
            && domain
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-".contains(&c))
        {
            return false;
        }
    }
    !encodes_words(v)
}

/// Base64 that decodes to ordinary text ("hello world", "admin:admin" …).
fn encodes_words(v: &str) -> bool {
    let Some(bytes) = b64_decode(v) else {
        return false;
    };
    if bytes.len() < 4 {
        return false;
    }
    let wordy = bytes
        .iter()
        .filter(|b| b.is_ascii_alphabetic() || b" ,.'!?-:".contains(b))
        .count();
    bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') && wordy * 10 >= bytes.len() * 9
}

/// Lenient base64/base64url decoder (padding optional). `None` if not base64.
pub(super) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.is_empty() || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
