//! The create dialog: its fields, their editing, and where an API error belongs.

use clauderon_types::api::CreateSessionRequest;
use clauderon_types::options::{parse_cpus, parse_memory};
use clauderon_types::{AccessMode, AgentKind, BackendKind, SandboxLevel, SessionOptions};

/// The dialog's fields, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Repo,
    Prompt,
    Backend,
    Agent,
    Model,
    Access,
    Image,
    Cpus,
    Memory,
    Sandbox,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Repo,
        Field::Prompt,
        Field::Backend,
        Field::Agent,
        Field::Model,
        Field::Access,
        Field::Image,
        Field::Cpus,
        Field::Memory,
        Field::Sandbox,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Repo => "Repository",
            Field::Prompt => "Prompt",
            Field::Backend => "Backend",
            Field::Agent => "Agent",
            Field::Model => "Model",
            Field::Access => "Access",
            Field::Image => "Image (docker)",
            Field::Cpus => "CPUs (docker)",
            Field::Memory => "Memory (docker)",
            Field::Sandbox => "Sandbox (zellij)",
        }
    }

    /// A field chosen from a closed set (Left/Right or Space cycles it).
    pub fn is_choice(self) -> bool {
        matches!(self, Field::Backend | Field::Agent | Field::Access | Field::Sandbox)
    }
}

const BACKENDS: [BackendKind; 2] = [BackendKind::Zellij, BackendKind::Docker];
const AGENTS: [AgentKind; 3] = [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini];
const ACCESS: [AccessMode; 2] = [AccessMode::ReadOnly, AccessMode::ReadWrite];
/// `None`: the daemon's default (full where bubblewrap works).
const SANDBOXES: [Option<SandboxLevel>; 4] =
    [None, Some(SandboxLevel::Full), Some(SandboxLevel::Fs), Some(SandboxLevel::Off)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateForm {
    pub repo: String,
    /// Multi-line: Enter adds a line; Ctrl-S (or Enter on the last field) creates.
    pub prompt: String,
    pub backend: usize,
    pub agent: usize,
    pub model: String,
    pub access: usize,
    pub image: String,
    /// `1.5`: empty for the daemon's default.
    pub cpus: String,
    /// `2g`, `512m`: empty for the daemon's default.
    pub memory: String,
    pub sandbox: usize,
    pub focus: Field,
    /// Repositories used before, newest first; Up/Down on the repo field picks one.
    pub recent: Vec<String>,
    pub recent_pick: Option<usize>,
    /// The API's refusal, by the field it names (or the form's top when it names none).
    pub error: Option<(Option<Field>, String)>,
    pub submitting: bool,
}

impl CreateForm {
    pub fn new(recent: Vec<String>) -> Self {
        CreateForm {
            repo: recent.first().cloned().unwrap_or_default(),
            prompt: String::new(),
            backend: 0,
            agent: 0,
            model: String::new(),
            access: 0,
            image: String::new(),
            cpus: String::new(),
            memory: String::new(),
            sandbox: 0,
            focus: Field::Repo,
            recent,
            recent_pick: None,
            error: None,
            submitting: false,
        }
    }

    pub fn backend(&self) -> BackendKind {
        BACKENDS[self.backend % BACKENDS.len()]
    }
    pub fn agent(&self) -> AgentKind {
        AGENTS[self.agent % AGENTS.len()]
    }
    pub fn access(&self) -> AccessMode {
        ACCESS[self.access % ACCESS.len()]
    }
    pub fn sandbox(&self) -> Option<SandboxLevel> {
        SANDBOXES[self.sandbox % SANDBOXES.len()]
    }

    pub fn next_field(&mut self, back: bool) {
        let i = Field::ALL.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = Field::ALL.len();
        self.focus = Field::ALL[if back { (i + n - 1) % n } else { (i + 1) % n }];
    }

    /// Cycle a choice field.
    pub fn cycle(&mut self, back: bool) {
        let step = |v: &mut usize, n: usize| *v = if back { (*v + n - 1) % n } else { (*v + 1) % n };
        match self.focus {
            Field::Backend => step(&mut self.backend, BACKENDS.len()),
            Field::Agent => step(&mut self.agent, AGENTS.len()),
            Field::Access => step(&mut self.access, ACCESS.len()),
            Field::Sandbox => step(&mut self.sandbox, SANDBOXES.len()),
            _ => {}
        }
    }

    /// The text of the focused field, when it is a text field.
    pub fn text_mut(&mut self) -> Option<&mut String> {
        match self.focus {
            Field::Repo => Some(&mut self.repo),
            Field::Prompt => Some(&mut self.prompt),
            Field::Model => Some(&mut self.model),
            Field::Image => Some(&mut self.image),
            Field::Cpus => Some(&mut self.cpus),
            Field::Memory => Some(&mut self.memory),
            _ => None,
        }
    }

    /// Up/Down on the repo field: the next or previous recent repository.
    pub fn pick_recent(&mut self, up: bool) {
        if self.recent.is_empty() {
            return;
        }
        let n = self.recent.len();
        let i = match (self.recent_pick, up) {
            (None, _) => 0,
            (Some(i), false) => (i + 1) % n,
            (Some(i), true) => (i + n - 1) % n,
        };
        self.recent_pick = Some(i);
        self.repo = self.recent[i].clone();
    }

    /// The request, or the field that must be filled first.
    pub fn request(&self) -> Result<CreateSessionRequest, (Field, String)> {
        let repo = self.repo.trim();
        if repo.is_empty() {
            return Err((Field::Repo, "Give the path of a git repository.".into()));
        }
        if self.prompt.trim().is_empty() {
            return Err((Field::Prompt, "Write the agent's first prompt.".into()));
        }
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let milli_cpus =
            some(&self.cpus).map(|c| parse_cpus(&c)).transpose().map_err(|e| (Field::Cpus, e))?;
        let memory_bytes =
            some(&self.memory).map(|m| parse_memory(&m)).transpose().map_err(|e| (Field::Memory, e))?;
        Ok(CreateSessionRequest {
            repo_path: repo.to_string(),
            prompt: self.prompt.clone(),
            name: None,
            backend: Some(self.backend()),
            agent: Some(self.agent()),
            access_mode: Some(self.access()),
            base: None,
            options: SessionOptions {
                model: some(&self.model),
                image: some(&self.image),
                milli_cpus,
                memory_bytes,
                sandbox: self.sandbox(),
                ..Default::default()
            },
        })
    }
}

/// Which field an API error sentence is about, if it names one (the web UI's rule, the same
/// words, so both forms put a message in the same place).
pub fn field_of(message: &str) -> Option<Field> {
    let m = message.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&["image"]) {
        Some(Field::Image)
    } else if has(&["model"]) {
        Some(Field::Model)
    } else if has(&["access mode", "access_mode"]) {
        Some(Field::Access)
    } else if has(&["agent"]) {
        Some(Field::Agent)
    } else if has(&["backend", "docker", "zellij"]) {
        Some(Field::Backend)
    } else if has(&["prompt"]) {
        Some(Field::Prompt)
    } else if has(&["repositor", "repo_path", "git", "path", "director", "folder"]) {
        Some(Field::Repo)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_land_by_the_field_they_name() {
        assert_eq!(field_of("/tmp/x is not a git repository: run git init"), Some(Field::Repo));
        assert_eq!(field_of("Docker is not running: start it"), Some(Field::Backend));
        assert_eq!(field_of("the prompt is empty"), Some(Field::Prompt));
        assert_eq!(field_of("image foo:1 was not found"), Some(Field::Image));
        assert_eq!(field_of("the daemon is busy"), None);
    }

    #[test]
    fn an_empty_repo_or_prompt_is_refused_before_the_api() {
        let mut f = CreateForm::new(vec![]);
        assert_eq!(f.request().map_err(|e| e.0), Err(Field::Repo));
        f.repo = "/r".into();
        assert_eq!(f.request().map_err(|e| e.0), Err(Field::Prompt));
        f.prompt = "fix it".into();
        f.model = "  ".into();
        let req = f.request().map_err(|e| e.1);
        assert_eq!(req.as_ref().map(|r| r.options.model.clone()), Ok(None));
        assert_eq!(req.map(|r| r.backend), Ok(Some(BackendKind::Zellij)));
    }
}
