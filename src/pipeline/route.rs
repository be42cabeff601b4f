//! Where a message goes before anything is stored: ignored (automatic mail,
//! RFC 3834), a responder's command for a named case, a reporter's answer, or a
//! report. Reads only what it needs to decide.

#[allow(unused_imports)]
use super::*;

/// Whether the message's sender may report (`intake.allowed_domains`): mail from
/// anyone else never becomes a report (it may still be a responder's command or a
/// reporter's answer).
pub(super) fn may_report(ctx: &Context, m: &Inbound) -> bool {
    m.from
        .as_ref()
        .is_some_and(|f| ctx.cfg.sender_allowed(&f.address))
}

/// RFC 3834 and loop protection: automatic mail is recorded, never answered.
pub(super) fn ignore_reason(ctx: &Context, m: &Inbound) -> Option<String> {
    let from = m.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    if !from.is_empty() && from == ctx.own_address() {
        return Some("sent by closeloop itself (mail loop guard)".into());
    }
    if let Some(a) = m.auto_submitted.as_deref().map(str::trim) {
        if !a.eq_ignore_ascii_case("no") && !a.is_empty() {
            return Some(format!(
                "automatic message (Auto-Submitted: {})",
                first_word(a)
            ));
        }
    }
    if let Some(p) = m
        .precedence
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
    {
        if matches!(p.as_str(), "bulk" | "junk" | "list") {
            return Some(format!("bulk or list mail (Precedence: {p})"));
        }
    }
    if m.list_id.is_some() {
        return Some("mailing-list message (List-Id)".into());
    }
    if m.is_delivery_report {
        return Some("delivery report (bounce)".into());
    }
    let local = from.split('@').next().unwrap_or("");
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return Some(format!("bounce from {local}"));
    }
    if m.return_path.as_deref() == Some("") {
        return Some("null return path (bounce or automatic notice)".into());
    }
    None
}

/// A copy of one of our own letters coming back (`outbound.journal`): proof
/// the SMTP server took that letter. Records it (a letter left in doubt by a
/// sender that died is marked sent rather than sent again) and says why the
/// copy itself is ignored; `None` for any other message.
pub(super) async fn letter_copy(
    ctx: &Context,
    conn: &mut Conn,
    m: &Inbound,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let from = m.from.as_ref().map(|f| f.address.to_ascii_lowercase());
    let mid = m.message_id.as_deref().filter(|id| !id.is_empty());
    let (Some(from), Some(mid)) = (from, mid) else {
        return Ok(None);
    };
    if from != ctx.own_address() {
        return Ok(None);
    }
    Ok(match outbox::confirm_copy(conn, mid, now).await? {
        outbox::Copy::Unknown => None,
        outbox::Copy::Sent { letter } => Some(format!("copy of letter {letter}: delivered")),
        outbox::Copy::Settled { letter } => {
            tracing::info!(
                letter,
                "a letter left in doubt came back as a copy: marked sent, not sent again"
            );
            Some(format!(
                "copy of letter {letter}: delivered, though its sender did not record it"
            ))
        }
        outbox::Copy::Ignored { letter, status } => Some(format!(
            "copy of letter {letter}, which is {status} and no sender has handed over: left as it is"
        )),
    })
}

pub(super) fn first_word(s: &str) -> String {
    s.split([';', ' '])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect()
}

/// The case a message names: `[PREFIX-n]` in the subject, or In-Reply-To /
/// References naming a letter we sent for the case.
pub async fn named_case(
    ctx: &Context,
    conn: &mut Conn,
    m: &Inbound,
) -> Result<Option<CaseId>, StoreError> {
    if let Some(id) = case_in_subject(&m.subject, ctx.prefix()) {
        if cases::get(conn, id).await?.is_some() {
            return Ok(Some(id));
        }
    }
    for mid in m.in_reply_to.iter().chain(m.references.iter().rev()) {
        if let Some((case, _, _)) = outbox::case_of_message_id(conn, mid).await? {
            return Ok(Some(case));
        }
    }
    Ok(None)
}

/// `[CL-12]` (case-insensitive prefix) anywhere in a subject.
pub fn case_in_subject(subject: &str, prefix: &str) -> Option<CaseId> {
    let upper = subject.to_ascii_uppercase();
    let needle = format!("[{}-", prefix.to_ascii_uppercase());
    let start = upper.find(&needle)? + needle.len();
    let rest = &upper[start..];
    let end = rest.find(']')?;
    CaseId::parse(&rest[..end])
}

/// A reporter answering a letter we sent them (a question, usually): the case it belongs to.
pub(super) async fn reporter_reply_case(
    ctx: &Context,
    conn: &mut Conn,
    m: &Inbound,
    from: &str,
) -> Result<Option<CaseId>, StoreError> {
    for mid in m.in_reply_to.iter().chain(m.references.iter().rev()) {
        if let Some((case, kind, to)) = outbox::case_of_message_id(conn, mid).await? {
            if to.eq_ignore_ascii_case(from) && kind == "question" {
                return Ok(Some(cases::surviving(conn, case).await?));
            }
        }
    }
    // A subject naming an open case they reported, while a question is pending to them.
    if let Some(case) = case_in_subject(&m.subject, ctx.prefix()) {
        let letters = outbox::of_case(conn, case).await?;
        if letters
            .iter()
            .any(|l| l.kind == "question" && l.recipient.eq_ignore_ascii_case(from))
        {
            return Ok(Some(cases::surviving(conn, case).await?));
        }
    }
    Ok(None)
}
