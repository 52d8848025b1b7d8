//! create, list, show, diff, commit, push, pr, archive, unarchive, stop, start, delete, set-access-mode.

use crate::cli::{
    AllowHostArgs, CommitArgs, CreateArgs, DeleteArgs, DiffArgs, ListArgs, NameArgs, PrArgs, PushArgs,
    SetAccessModeArgs, SetBudgetArgs, ShowArgs,
};
use crate::output::{Style, emit, emit_json, pr_standing};
use anyhow::Context;
use clauderon_client::Client;
use clauderon_types::api::{CreateSessionRequest, DeleteQuery, ListView, SetBudgetRequest};
use clauderon_types::ship::{PrRequest, PushOutcome};
use clauderon_types::usage::{BucketWidth, UsageReport};
use clauderon_types::{SessionName, SessionOptions};

pub async fn create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    // The daemon resolves paths in its own working directory, so send an absolute one.
    let repo = std::path::absolute(&args.repo)
        .with_context(|| format!("resolving the repository path {}", args.repo.display()))?;
    let name = args.name.as_deref().map(SessionName::parse).transpose()?;
    let req = CreateSessionRequest {
        repo_path: repo.to_string_lossy().into_owned(),
        prompt: args.prompt.unwrap_or_default(),
        name,
        backend: args.backend,
        agent: args.agent,
        access_mode: args.access_mode,
        base: args.base,
        options: SessionOptions {
            command: args.command,
            model: args.model,
            image: args.image,
            network: args.network,
            sandbox: args.sandbox,
            milli_cpus: args.cpus,
            memory_bytes: args.memory,
            allow_hosts: args.allow_hosts,
            budget_tokens: args.budget_tokens,
            budget_usd_cents: args.budget_usd,
        },
    };
    if req.backend == Some(clauderon_types::BackendKind::Docker) && req.options.image.is_none() {
        crate::image_cmd::build_if_missing(client).await?;
    }
    if !args.out.json {
        eprintln!("creating a session in {} …", repo.display());
    }
    let s = client.create(&req).await?;
    if args.out.json {
        return emit_json(&s);
    }
    emit(&format!(
        "created {} ({} backend, {} agent, {}) on branch {}\nworktree: {}",
        s.name,
        s.backend,
        s.agent,
        s.access_mode,
        s.branch,
        s.worktree_path.display()
    ))
}

pub async fn list(client: &Client, args: ListArgs, style: Style) -> anyhow::Result<()> {
    let view = if args.all {
        ListView::All
    } else if args.archived {
        ListView::Archived
    } else {
        ListView::Active
    };
    let list = client.list(view).await?;
    if args.out.json {
        return emit_json(&list);
    }
    emit(&style.sessions_table(&list.sessions, chrono::Utc::now()))
}

/// `show --json`: the session's detail with its usage beside it.
#[derive(serde::Serialize)]
struct ShowJson<'a> {
    #[serde(flatten)]
    detail: &'a clauderon_types::api::SessionDetail,
    /// `null` when the daemon could not report it.
    usage: Option<&'a UsageReport>,
}

pub async fn show(client: &Client, args: ShowArgs, style: Style) -> anyhow::Result<()> {
    if args.messages {
        let page = client.messages(&args.name, args.after, args.limit).await?;
        return if args.out.json { emit_json(&page) } else { emit(&style.messages(&page)) };
    }
    let detail = client.get(&args.name).await?;
    // The session exists: a usage report that fails should not hide its detail.
    let usage = client.usage(&args.name, BucketWidth::Hour).await.map_err(|e| e.to_string());
    if args.out.json {
        return emit_json(&ShowJson { detail: &detail, usage: usage.as_ref().ok() });
    }
    let mut out = style.session_detail(&detail, chrono::Utc::now());
    out.push_str(&style.usage_section(usage.as_ref().map_err(String::as_str)));
    emit(&out)
}

pub async fn diff(client: &Client, args: DiffArgs, style: Style) -> anyhow::Result<()> {
    let summary_only = args.stat || args.name_only;
    let diff = client.diff(&args.name, !summary_only).await?;
    if args.out.json {
        return emit_json(&diff);
    }
    if args.name_only {
        return emit(&style.diff_names(&diff));
    }
    emit(&if args.stat { style.diff_stat(&diff) } else { style.diff_patch(&diff) })
}

pub async fn commit(client: &Client, args: CommitArgs) -> anyhow::Result<()> {
    let report = client.commit(&args.name, &args.message).await?;
    if args.out.json {
        return emit_json(&report);
    }
    let short = report.commit.get(..12).unwrap_or(&report.commit);
    emit(&format!("committed {} file(s) on {} as {short}", report.files, report.branch))
}

pub async fn push(client: &Client, args: PushArgs) -> anyhow::Result<()> {
    eprintln!("pushing {}'s branch to its origin…", args.name);
    let report = client.push(&args.name, args.force).await?;
    if args.out.json {
        return emit_json(&report);
    }
    let short = report.commit.get(..12).unwrap_or(&report.commit);
    let what = match report.outcome {
        PushOutcome::Created => "created",
        PushOutcome::Updated => "updated",
        PushOutcome::Forced => "overwritten (forced)",
        PushOutcome::UpToDate => "already up to date",
    };
    let mut text = format!("{} at {short}: {what} on {}", report.branch, report.remote);
    if let Some(note) = &report.note {
        text.push_str(&format!("\nnote: {note}"));
    }
    emit(&text)
}

pub async fn pr(client: &Client, args: PrArgs) -> anyhow::Result<()> {
    if args.refresh {
        let s = client.refresh_pr(&args.name).await?;
        if args.out.json {
            return emit_json(&s.pull_request);
        }
        let pr = s.pull_request.context("the daemon answered without the pull request")?;
        return emit(&format!("#{} {}: {}", pr.number, pr.url, pr_standing(pr.state, pr.review, &pr.checks)));
    }
    let body = match args.body.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the body from stdin")?;
            Some(text)
        }
        other => other.map(str::to_string),
    };
    eprintln!("pushing {}'s branch and opening its pull request…", args.name);
    let req = PrRequest { title: args.title, body, draft: args.draft, base: args.base };
    let report = client.pr(&args.name, &req).await?;
    if args.out.json {
        return emit_json(&report);
    }
    let pr = &report.pull_request;
    emit(&format!(
        "{} pushed ({}); pull request #{} into {}: {}\n{}",
        report.push.branch,
        report.push.outcome.as_str(),
        pr.number,
        pr.base,
        pr.url,
        pr_standing(pr.state, pr.review, &pr.checks)
    ))
}

pub async fn archive(client: &Client, args: NameArgs, archive: bool) -> anyhow::Result<()> {
    let s = if archive { client.archive(&args.name).await? } else { client.unarchive(&args.name).await? };
    if args.out.json {
        return emit_json(&s);
    }
    emit(&format!("{} {}", if archive { "archived" } else { "unarchived" }, s.name))
}

/// `stop` (`start: false`) or `start` a session's process.
pub async fn run(client: &Client, args: NameArgs, start: bool) -> anyhow::Result<()> {
    let s = if start { client.start(&args.name).await? } else { client.stop(&args.name).await? };
    if args.out.json {
        return emit_json(&s);
    }
    if start {
        emit(&format!("started {} again ({}); `clauderon attach {}` to watch it", s.name, s.status, s.name))
    } else {
        emit(&format!("stopped {}; `clauderon start {}` runs it again", s.name, s.name))
    }
}

pub async fn delete(client: &Client, args: DeleteArgs) -> anyhow::Result<()> {
    let q = DeleteQuery { force: args.force, delete_branch: args.delete_branch };
    let s = client.delete(&args.name, q).await?;
    if args.out.json {
        return emit_json(&s);
    }
    if args.delete_branch {
        emit(&format!("deleted {} and its branch {}", s.name, s.branch))
    } else {
        emit(&format!("deleted {}; its branch {} is kept", s.name, s.branch))
    }
}

pub async fn allow_host(client: &Client, args: AllowHostArgs) -> anyhow::Result<()> {
    let s = client.allow_host(&args.name, &args.host).await?;
    if args.out.json {
        return emit_json(&s);
    }
    emit(&format!("{} may now reach {} (allowed: {})", s.name, args.host, s.options.allow_hosts.join(", ")))
}

pub async fn set_budget(client: &Client, args: SetBudgetArgs) -> anyhow::Result<()> {
    let req = SetBudgetRequest { tokens: args.tokens, usd_cents: args.usd };
    let s = client.set_budget(&args.name, req).await?;
    if args.out.json {
        return emit_json(&s);
    }
    emit(&format!(
        "{} budget: {}",
        s.name,
        crate::output::budget_text(s.options.budget_tokens, s.options.budget_usd_cents)
    ))
}

pub async fn set_access_mode(client: &Client, args: SetAccessModeArgs) -> anyhow::Result<()> {
    let s = client.set_access_mode(&args.name, args.mode).await?;
    if args.out.json {
        return emit_json(&s);
    }
    emit(&format!("{} is now {}", s.name, s.access_mode))
}
