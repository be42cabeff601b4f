//! Runtime template overrides (`letters.templates_dir`): a deployment may put
//! `<kind>.txt` (ack, notify, outcome …) or a partial (`_footer.txt` …) in a
//! directory; those are rendered with minijinja from the same view data the
//! built-in askama templates get (the built-ins are written in the shared subset,
//! so a file copied from `templates/` works unchanged).
//!
//! Every override is checked at load: unknown file names, syntax errors and
//! undefined variables (rendered against the samples in every variant) are a
//! [`LetterError::Override`] naming the file and line. Reads files only in
//! [`Overrides::load`]; rendering is pure.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::context::ReminderReason;
use super::view::*;
use super::{samples, LetterError, Org};
use crate::domain::{CaseId, LetterKind, Outcome};

/// The built-in templates, by file name (partials start with `_`).
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("ack.txt", include_str!("../../templates/ack.txt")),
    ("notify.txt", include_str!("../../templates/notify.txt")),
    ("confirm.txt", include_str!("../../templates/confirm.txt")),
    ("reject.txt", include_str!("../../templates/reject.txt")),
    ("question.txt", include_str!("../../templates/question.txt")),
    ("outcome.txt", include_str!("../../templates/outcome.txt")),
    ("recent.txt", include_str!("../../templates/recent.txt")),
    ("reminder.txt", include_str!("../../templates/reminder.txt")),
    ("update.txt", include_str!("../../templates/update.txt")),
    ("failure.txt", include_str!("../../templates/failure.txt")),
    (
        "_artifacts.txt",
        include_str!("../../templates/_artifacts.txt"),
    ),
    (
        "_commands.txt",
        include_str!("../../templates/_commands.txt"),
    ),
    ("_footer.txt", include_str!("../../templates/_footer.txt")),
    (
        "_outcome_details.txt",
        include_str!("../../templates/_outcome_details.txt"),
    ),
];

/// Templates loaded from a deployment's directory, ready to render.
pub struct Overrides {
    env: Environment<'static>,
    /// Template name → the file it came from (only overridden ones).
    files: BTreeMap<String, PathBuf>,
    /// A partial was overridden: every kind renders through minijinja so the
    /// change shows everywhere the partial is included.
    all_kinds: bool,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides")
            .field("files", &self.files)
            .finish()
    }
}

/// A minijinja environment set up like the askama built-ins: no escaping,
/// trailing newline kept, undefined variables are errors.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in BUILTIN {
        env.add_template(name, source)
            .expect("built-in templates parse in minijinja");
    }
    env
}

fn template_name(kind: LetterKind) -> String {
    format!("{}.txt", kind.slug())
}

impl Overrides {
    /// Loads every `*.txt` in `dir` that names a built-in template and checks it.
    /// A missing directory is an error; an empty one gives no overrides.
    pub fn load(dir: &Path) -> Result<Overrides, LetterError> {
        let io = |file: &Path, e: std::io::Error| LetterError::Override {
            file: file.to_path_buf(),
            line: None,
            message: e.to_string(),
        };
        let mut env = environment();
        let mut files = BTreeMap::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !BUILTIN.iter().any(|(n, _)| *n == name) {
                let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                return Err(LetterError::Override {
                    file: path,
                    line: None,
                    message: format!(
                        "not a letter template; expected one of {}",
                        known.join(", ")
                    ),
                });
            }
            let source = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            env.add_template_owned(name.clone(), source)
                .map_err(|e| LetterError::Override {
                    file: path.clone(),
                    line: e.line(),
                    message: e
                        .detail()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.kind().to_string()),
                })?;
            files.insert(name, path);
        }
        let all_kinds = files.keys().any(|n| n.starts_with('_'));
        let overrides = Overrides {
            env,
            files,
            all_kinds,
        };
        overrides.validate()?;
        Ok(overrides)
    }

    /// True when nothing was overridden.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The override files in use.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.values().map(PathBuf::as_path)
    }

    fn applies_to(&self, kind: LetterKind) -> bool {
        self.all_kinds || self.files.contains_key(&template_name(kind))
    }

    /// Renders `kind` with its override, or None when the built-in applies.
    pub(crate) fn render<S: Serialize>(
        &self,
        kind: LetterKind,
        view: &S,
    ) -> Option<Result<String, LetterError>> {
        if !self.applies_to(kind) {
            return None;
        }
        Some(render_with(&self.env, kind, view).map_err(|e| self.error(e)))
    }

    /// Maps a minijinja error to the file (override or built-in) and line.
    fn error(&self, e: minijinja::Error) -> LetterError {
        let name = e.name().unwrap_or_default().to_string();
        let file = self
            .files
            .get(&name)
            .cloned()
            .unwrap_or_else(|| PathBuf::from(format!("built-in templates/{name}")));
        LetterError::Override {
            file,
            line: e.line(),
            message: e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string()),
        }
    }

    /// Renders every overridden kind against every sample variant.
    fn validate(&self) -> Result<(), LetterError> {
        for s in sample_views() {
            if self.applies_to(s.kind) {
                render_with(&self.env, s.kind, &s.value).map_err(|e| self.error(e))?;
            }
        }
        Ok(())
    }
}

/// Renders `kind`'s template from `env` with `view`.
pub(crate) fn render_with<S: Serialize>(
    env: &Environment<'_>,
    kind: LetterKind,
    view: &S,
) -> Result<String, minijinja::Error> {
    env.get_template(&template_name(kind))?
        .render(Value::from_serialize(view))
}

/// One sample as template data, with what the built-in askama template made of it
/// (the tests hold both engines to the same output).
pub(crate) struct SampleView {
    pub kind: LetterKind,
    pub value: Value,
    #[cfg(test)]
    pub askama: Result<String, String>,
}

fn sample<V: askama::Template + Serialize>(kind: LetterKind, view: &V) -> SampleView {
    SampleView {
        kind,
        value: Value::from_serialize(view),
        #[cfg(test)]
        askama: view.render().map_err(|e| e.to_string()),
    }
}

/// Every letter kind in the variants its templates branch on, as template data.
pub(crate) fn sample_views() -> Vec<SampleView> {
    let org = Org::new("Example Corp", "CL");
    let mut out: Vec<SampleView> = Vec::new();

    for others in [0, 1, 3] {
        let mut c = samples::ack();
        c.others_reported = others;
        if others == 0 {
            c.masked_artifacts.clear();
            c.reporter_name = None;
        }
        if others == 3 {
            c.masked_artifacts = samples::many_artifacts(LISTED_ARTIFACTS + 3);
        }
        out.push(sample(LetterKind::Ack, &AckView::new(&org, &c)));
    }

    let mut notify = Vec::new();
    let base = samples::notify();
    notify.push(base.clone());
    let mut c = base.clone();
    c.joined_existing = false;
    c.original = None;
    c.masked_artifacts.clear();
    c.warnings.clear();
    c.redacted_excerpt.clear();
    c.classify_within = None;
    notify.push(c);
    let mut c = base.clone();
    c.reopened = true;
    notify.push(c);
    let mut c = base.clone();
    c.answered_from = Some(CaseId(3));
    notify.push(c);
    let mut c = base;
    c.masked_artifacts = samples::many_artifacts(LISTED_ARTIFACTS + 3);
    notify.push(c);
    out.extend(
        notify
            .iter()
            .map(|c| sample(LetterKind::Notify, &NotifyView::new(&org, c))),
    );

    let mut confirm = samples::confirm();
    out.push(sample(
        LetterKind::Confirm,
        &ConfirmView::new(&org, &confirm),
    ));
    confirm.letters_queued.clear();
    out.push(sample(
        LetterKind::Confirm,
        &ConfirmView::new(&org, &confirm),
    ));

    let mut reject = samples::reject();
    out.push(sample(LetterKind::Reject, &RejectView::new(&org, &reject)));
    reject.case_id = None;
    out.push(sample(LetterKind::Reject, &RejectView::new(&org, &reject)));

    out.push(sample(
        LetterKind::Question,
        &QuestionView::new(&org, &samples::question()),
    ));

    for outcome in Outcome::ALL {
        let c = samples::outcome(*outcome);
        out.push(sample(LetterKind::Outcome, &OutcomeView::new(&org, &c, "")));
        let mut first_merged = c.clone();
        first_merged.position = 1;
        first_merged.merged_from = Some(CaseId(9));
        first_merged.advice = Some("Please delete your copy.".into());
        out.push(sample(
            LetterKind::Outcome,
            &OutcomeView::new(&org, &first_merged, ""),
        ));
        let mut many = c.clone();
        many.masked_artifacts = samples::many_artifacts(LISTED_ARTIFACTS + 3);
        out.push(sample(
            LetterKind::Outcome,
            &OutcomeView::new(&org, &many, ""),
        ));
        let mut alone = c;
        alone.position = 1;
        alone.reporters_total = 1;
        alone.resolution_text = None;
        alone.masked_artifacts.clear();
        out.push(sample(
            LetterKind::Outcome,
            &OutcomeView::new(&org, &alone, ""),
        ));
    }
    let recent = samples::recent();
    out.push(sample(
        LetterKind::Recent,
        &RecentView::new(&org, &recent.outcome, &recent.resolved_on),
    ));

    for reason in [
        ReminderReason::Classify,
        ReminderReason::Outcome,
        samples::risk_review(),
    ] {
        let mut c = samples::reminder(reason);
        out.push(sample(LetterKind::Reminder, &ReminderView::new(&org, &c)));
        c.sla = None;
        c.category = None;
        c.severity = None;
        c.waiting_reporters = 0;
        out.push(sample(LetterKind::Reminder, &ReminderView::new(&org, &c)));
    }

    let mut update = samples::update();
    out.push(sample(LetterKind::Update, &UpdateView::new(&org, &update)));
    update.category = None;
    update.actions_so_far.clear();
    out.push(sample(LetterKind::Update, &UpdateView::new(&org, &update)));

    let mut failure = samples::failure();
    out.push(sample(
        LetterKind::Failure,
        &FailureView::new(&org, &failure),
    ));
    failure.case_id = None;
    failure.letter_kind = LetterKind::Confirm;
    out.push(sample(
        LetterKind::Failure,
        &FailureView::new(&org, &failure),
    ));
    out
}
