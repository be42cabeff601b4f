//! `Authentication-Results` (RFC 8601): a strict parser of one header value, and
//! the decision whether a responder's mail is authenticated for `responders.auth =
//! "dmarc"` (SPEC §5): the topmost header, added by our own receiving server, must
//! carry the trusted authserv-id and say `dmarc=pass`, or `dkim=pass` for a domain
//! aligned with the From domain.
//!
//! It must not trust anything else: headers further down, or from another
//! authserv-id, may be forged by the sender (RFC 8601 §5). No IO, no DNS: without
//! the public suffix list, relaxed alignment is "one domain is a subdomain of the
//! other", and a single-label domain never aligns.

/// One parsed header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthResults {
    /// Who did the checks; compared case-insensitively with `responders.trusted_authserv_id`.
    pub authserv_id: String,
    /// Empty for `; none`.
    pub results: Vec<MethodResult>,
}

/// One `method=result` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodResult {
    /// Lowercase, without a `/version`.
    pub method: String,
    /// Lowercase.
    pub result: String,
    /// The `reason=` value, if any.
    pub reason: Option<String>,
    /// `("header.from", "example.org")`, `("header.d", "example.org")` …, keys lowercase,
    /// values as written. Non-standard bare `key=value` pairs (Microsoft's `action=none`)
    /// are kept under their bare key.
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    /// The first value of property `key` (e.g. "header.d"), case-insensitive key.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one `Authentication-Results` value (a leading `Authentication-Results:` name
/// and folding are tolerated). Any deviation from the grammar is an error.
pub fn parse(value: &str) -> Result<AuthResults, String> {
    let value = match value.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case("authentication-results") => rest,
        _ => value,
    };
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    p.cfws()?;
    let authserv_id = p.value().ok_or_else(|| p.expected("an authserv-id"))?;
    p.cfws()?;
    // Optional version: digits right after the authserv-id.
    if p.peek().is_some_and(|b| b.is_ascii_digit()) {
        let v = p.run(|b| b.is_ascii_digit());
        if v != "1" {
            return Err(format!("unsupported Authentication-Results version {v}"));
        }
        p.cfws()?;
    }
    let mut results = Vec::new();
    let mut clauses = 0;
    while p.eat(b';') {
        clauses += 1;
        p.cfws()?;
        if p.at_end() {
            break; // a trailing ";" is common and harmless
        }
        let method = p.keyword().ok_or_else(|| p.expected("a method"))?;
        p.cfws()?;
        if method.eq_ignore_ascii_case("none") && (p.at_end() || p.peek() == Some(b';')) {
            if clauses != 1 || !results.is_empty() {
                return Err("`none` must be the only result".to_string());
            }
            continue;
        }
        if p.eat(b'/') {
            p.cfws()?;
            p.run(|b| b.is_ascii_digit())
                .parse::<u32>()
                .map_err(|_| p.expected("a method version"))?;
            p.cfws()?;
        }
        if !p.eat(b'=') {
            return Err(p.expected(&format!("'=' after method {method}")));
        }
        p.cfws()?;
        let result = p
            .keyword()
            .ok_or_else(|| p.expected(&format!("a result for {method}")))?;
        let mut mr = MethodResult {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            reason: None,
            props: Vec::new(),
        };
        p.cfws()?;
        while !p.at_end() && p.peek() != Some(b';') {
            let key = p
                .property_name()
                .ok_or_else(|| p.expected("a property or ';'"))?;
            p.cfws()?;
            if !p.eat(b'=') {
                return Err(p.expected(&format!("'=' after {key}")));
            }
            p.cfws()?;
            let key = key.to_ascii_lowercase();
            if key == "reason" {
                let v = p.value().ok_or_else(|| p.expected("a reason"))?;
                mr.reason = Some(v);
            } else {
                let v = p
                    .pvalue()
                    .ok_or_else(|| p.expected(&format!("a value for {key}")))?;
                mr.props.push((key, v));
            }
            p.cfws()?;
        }
        results.push(mr);
    }
    if !p.at_end() {
        return Err(p.expected("';'"));
    }
    if clauses == 0 {
        return Err("no results: expected '; method=result' or '; none'".to_string());
    }
    Ok(AuthResults {
        authserv_id,
        results,
    })
}

/// Whether a responder's reply is authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Why not, in one sentence for the event log.
    Fail(String),
}

/// Decides `responders.auth = "dmarc"` for a reply from `from_domain`.
/// `headers_top_first` are the message's `Authentication-Results` values in header
/// order (the one our server added last comes first). Only that topmost header counts.
/// An explicit `dmarc=fail` for the From domain is final even if a DKIM signature
/// would align relaxedly (the domain may require strict alignment).
pub fn dmarc_verdict(
    headers_top_first: &[String],
    trusted_authserv_id: &str,
    from_domain: &str,
) -> Verdict {
    let Some(top) = headers_top_first.first() else {
        return Verdict::Fail("no Authentication-Results header".to_string());
    };
    let ar = match parse(top) {
        Ok(ar) => ar,
        Err(e) => {
            return Verdict::Fail(format!(
                "the topmost Authentication-Results header is unreadable: {e}"
            ))
        }
    };
    if !ar
        .authserv_id
        .eq_ignore_ascii_case(trusted_authserv_id.trim())
    {
        return Verdict::Fail(format!(
            "the topmost Authentication-Results header is from '{}', not the trusted '{}'",
            ar.authserv_id, trusted_authserv_id
        ));
    }
    let from = domain_of(from_domain);
    if from.is_empty() {
        return Verdict::Fail("the message has no From domain".to_string());
    }
    let for_from = |m: &MethodResult| m.prop("header.from").is_none_or(|d| domain_of(d) == from);
    let dmarc: Vec<&MethodResult> = ar
        .results
        .iter()
        .filter(|m| m.method == "dmarc" && for_from(m))
        .collect();
    if dmarc.iter().any(|m| m.result == "pass") {
        return Verdict::Pass;
    }
    if dmarc.iter().any(|m| m.result == "fail") {
        return Verdict::Fail(format!("dmarc=fail for {from}"));
    }
    let mut signers = Vec::new();
    for m in ar
        .results
        .iter()
        .filter(|m| m.method == "dkim" && m.result == "pass")
    {
        let d = m
            .prop("header.d")
            .or_else(|| m.prop("header.i"))
            .map(domain_of)
            .unwrap_or_default();
        if aligned(&d, &from) {
            return Verdict::Pass;
        }
        signers.push(d);
    }
    if signers.is_empty() {
        Verdict::Fail(format!("no dmarc=pass and no dkim=pass for {from}"))
    } else {
        Verdict::Fail(format!(
            "dkim=pass only for {}, not aligned with {from}",
            signers.join(", ")
        ))
    }
}

/// The lowercase domain of `example.org`, `@example.org` or `ann@example.org`.
fn domain_of(s: &str) -> String {
    let s = s.trim().trim_matches(['<', '>']);
    let d = s.rsplit_once('@').map_or(s, |(_, d)| d);
    d.trim_end_matches('.').to_ascii_lowercase()
}

/// Relaxed alignment without a public suffix list: equal, or one is a subdomain of
/// the other. Single-label domains ("org") never align.
fn aligned(d: &str, from: &str) -> bool {
    if d.is_empty() || !d.contains('.') || !from.contains('.') {
        return false;
    }
    d == from || d.ends_with(&format!(".{from}")) || from.ends_with(&format!(".{d}"))
}

/// A cursor over the header value. Errors name what was expected and where.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }
    fn expected(&self, what: &str) -> String {
        match self.peek() {
            None => format!("expected {what} at the end"),
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.s[self.i..]);
                let near: String = rest.chars().take(20).collect();
                format!("expected {what} at byte {}, near '{near}'", self.i)
            }
        }
    }
    fn run(&mut self, ok: impl Fn(u8) -> bool) -> String {
        let start = self.i;
        while self.peek().is_some_and(&ok) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// Folding whitespace and nested `(comments)` with `\` quoted pairs.
    fn cfws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'(') => {
                    let mut depth = 0usize;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated comment".to_string()),
                            Some(b'\\') => self.i += 2,
                            Some(b'(') => {
                                depth += 1;
                                self.i += 1
                            }
                            Some(b')') => {
                                depth -= 1;
                                self.i += 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// RFC 5321 ldh-str: letters, digits, hyphens; starts with a letter or digit.
    fn keyword(&mut self) -> Option<String> {
        if !self.peek()?.is_ascii_alphanumeric() {
            return None;
        }
        Some(self.run(|b| b.is_ascii_alphanumeric() || b == b'-'))
    }

    /// `reason`, or `ptype.property` (keywords joined by a dot, property may be
    /// `mailfrom`/`rcptto` …), or a bare non-standard keyword.
    fn property_name(&mut self) -> Option<String> {
        let mut name = self.keyword()?;
        if self.eat(b'.') {
            let prop = self.keyword()?;
            name.push('.');
            name.push_str(&prop);
        }
        Some(name)
    }

    /// RFC 2045 value: a token or a quoted-string.
    fn value(&mut self) -> Option<String> {
        if self.peek()? == b'"' {
            return self.quoted();
        }
        let v = self.run(|b| b > b' ' && b < 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b));
        (!v.is_empty()).then_some(v)
    }

    /// A property value: a quoted-string, or a token that may also hold `@` (an
    /// address or `@domain`), the `:` of an IPv6 `policy.iprev` and the `/`, `+`, `=`
    /// of a base64 `header.b`. ASCII only.
    fn pvalue(&mut self) -> Option<String> {
        if self.peek()? == b'"' {
            return self.quoted();
        }
        let v = self.run(|b| b > b' ' && b < 0x7f && !b"()<>[],;\"\\".contains(&b));
        (!v.is_empty()).then_some(v)
    }

    fn quoted(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b'\r' | b'\n' => self.i += 1,
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MX: &str = "mx.example.org";

    fn mr(method: &str, result: &str, props: &[(&str, &str)]) -> MethodResult {
        MethodResult {
            method: method.into(),
            result: result.into(),
            reason: None,
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn parses_rfc_8601_examples_and_real_headers() {
        let check = |value: &str, id: &str, want: Vec<MethodResult>| {
            let got = parse(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(
                got,
                AuthResults {
                    authserv_id: id.into(),
                    results: want
                },
                "{value:?}"
            );
        };
        check("example.org 1; none", "example.org", vec![]);
        check(
            "example.org; iprev=pass policy.iprev=2001:db8::1",
            "example.org",
            vec![mr("iprev", "pass", &[("policy.iprev", "2001:db8::1")])],
        );
        check("example.com; none;", "example.com", vec![]);
        check(
            "example.com; spf=pass smtp.mailfrom=example.net",
            "example.com",
            vec![mr("spf", "pass", &[("smtp.mailfrom", "example.net")])],
        );
        check(
            "example.com;\r\n\tauth=pass (cram-md5) smtp.auth=sender@example.net;\r\n\tspf=pass smtp.mailfrom=example.net",
            "example.com",
            vec![
                mr("auth", "pass", &[("smtp.auth", "sender@example.net")]),
                mr("spf", "pass", &[("smtp.mailfrom", "example.net")]),
            ],
        );
        // Gmail: comments with ':' and '@', header.i=@domain, base64 header.b.
        check(
            "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.org header.s=sel1 header.b=Ab+c/9=;\r\n       spf=pass (google.com: domain of ann@example.org designates 192.0.2.1 as permitted sender) smtp.mailfrom=ann@example.org;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org",
            "mx.google.com",
            vec![
                mr("dkim", "pass", &[("header.i", "@example.org"), ("header.s", "sel1"), ("header.b", "Ab+c/9=")]),
                mr("spf", "pass", &[("smtp.mailfrom", "ann@example.org")]),
                mr("dmarc", "pass", &[("header.from", "example.org")]),
            ],
        );
        // Microsoft: no space after ';', bare `action=` outside the grammar.
        check(
            "spf.protection.outlook.com; dkim=pass (signature was verified) header.d=example.org;dmarc=pass action=none header.from=example.org;compauth=pass reason=100",
            "spf.protection.outlook.com",
            vec![
                mr("dkim", "pass", &[("header.d", "example.org")]),
                mr("dmarc", "pass", &[("action", "none"), ("header.from", "example.org")]),
                MethodResult { reason: Some("100".into()), ..mr("compauth", "pass", &[]) },
            ],
        );
        // Quoted authserv-id and values, nested comments, method version, upper case.
        check(
            "\"mx.example.org\" (our (inner) server); DKIM/1 = PASS reason=\"good sig\" header.d=\"example.org\" (sig \\) ok)",
            "mx.example.org",
            vec![MethodResult { reason: Some("good sig".into()), ..mr("dkim", "pass", &[("header.d", "example.org")]) }],
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for value in [
            "",
            "   ",
            "mx.example.org",
            "mx.example.org dkim=pass",
            "; dkim=pass",
            "mx.example.org; dkim",
            "mx.example.org; dkim=",
            "mx.example.org; =pass",
            "mx.example.org; dkim=pass header.d",
            "mx.example.org; dkim=pass header.d=",
            "mx.example.org; dkim=pass (unterminated",
            "mx.example.org; dkim=pass \"unterminated",
            "mx.example.org; dkim=pass; none",
            "mx.example.org 2; dkim=pass",
            "mx.example.org; dkim/x=pass",
            "<script>; dkim=pass",
            "mx.example.org; dkim=pass header.from=a.org, header.d=b.org",
        ] {
            assert!(
                parse(value).is_err(),
                "{value:?} parsed as {:?}",
                parse(value)
            );
        }
    }

    fn verdict(headers: &[&str], from: &str) -> Verdict {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        dmarc_verdict(&headers, MX, from)
    }

    fn fail(reason: &str) -> Verdict {
        Verdict::Fail(reason.into())
    }

    #[test]
    fn dmarc_verdict_trusts_only_the_topmost_header_from_our_server() {
        let pass_ar = "mx.example.org; dmarc=pass header.from=example.org";
        for (headers, from, want) in [
            (&[pass_ar][..], "example.org", Verdict::Pass),
            (&["MX.Example.ORG; dmarc=pass header.from=Example.org"][..], "example.org", Verdict::Pass),
            (&["mx.example.org; dmarc=pass"][..], "example.org", Verdict::Pass),
            (&["mx.example.org; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org"][..], "example.org", Verdict::Pass),
            (&["mx.example.org; dkim=pass header.i=@mail.example.org"][..], "example.org", Verdict::Pass),
            (&["mx.example.org; dkim=pass header.d=example.org"][..], "eu.example.org", Verdict::Pass),
            (&["mx.example.org; dmarc=none header.from=example.org; dkim=pass header.d=example.org"][..], "example.org", Verdict::Pass),
            (&[][..], "example.org", fail("no Authentication-Results header")),
            (&["mx.example.org; dmarc=fail header.from=example.org"][..], "example.org", fail("dmarc=fail for example.org")),
            (
                &["mx.example.org; dmarc=fail header.from=example.org; dkim=pass header.d=mail.example.org"][..],
                "example.org",
                fail("dmarc=fail for example.org"),
            ),
            (
                &["mx.example.org; dmarc=pass header.from=other.org"][..],
                "example.org",
                fail("no dmarc=pass and no dkim=pass for example.org"),
            ),
            (
                &["evil.example.net; dmarc=pass header.from=example.org"][..],
                "example.org",
                fail("the topmost Authentication-Results header is from 'evil.example.net', not the trusted 'mx.example.org'"),
            ),
            // A forged "trusted" header below our failing topmost one proves nothing.
            (
                &["mx.example.org; dmarc=fail header.from=example.org", pass_ar][..],
                "example.org",
                fail("dmarc=fail for example.org"),
            ),
            (
                &["mx.example.org; spf=fail smtp.mailfrom=example.org", pass_ar][..],
                "example.org",
                fail("no dmarc=pass and no dkim=pass for example.org"),
            ),
            // Another server on top (not ours) and ours below: still not trusted.
            (
                &["relay.example.net; none", pass_ar][..],
                "example.org",
                fail("the topmost Authentication-Results header is from 'relay.example.net', not the trusted 'mx.example.org'"),
            ),
            (
                &["mx.example.org; dkim=pass header.d=attacker.net"][..],
                "example.org",
                fail("dkim=pass only for attacker.net, not aligned with example.org"),
            ),
            (
                &["mx.example.org; dkim=pass header.d=notexample.org"][..],
                "example.org",
                fail("dkim=pass only for notexample.org, not aligned with example.org"),
            ),
            (&["mx.example.org; dkim=pass header.d=org"][..], "example.org", fail("dkim=pass only for org, not aligned with example.org")),
            (&["mx.example.org; dkim=fail header.d=example.org"][..], "example.org", fail("no dmarc=pass and no dkim=pass for example.org")),
            (&["mx.example.org; none"][..], "example.org", fail("no dmarc=pass and no dkim=pass for example.org")),
            (&[pass_ar][..], "", fail("the message has no From domain")),
        ] {
            assert_eq!(verdict(headers, from), want, "{headers:?} from {from}");
        }
        match verdict(&["mx.example.org dmarc=pass"], "example.org") {
            Verdict::Fail(r) => assert!(
                r.starts_with("the topmost Authentication-Results header is unreadable"),
                "{r}"
            ),
            Verdict::Pass => panic!("garbage passed"),
        }
    }
}
