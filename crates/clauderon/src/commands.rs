//! The client commands: each talks to the daemon through the typed client.

use crate::cli::{ConfigCommand, CreateArgs, DeleteArgs, ListArgs, NameArgs, SetAccessModeArgs};
use crate::output::Style;
use anyhow::Context;
use clauderon_client::Client;
use clauderon_types::DataLayout;
use clauderon_types::api::{CreateSessionRequest, DeleteQuery, ListView};
use serde::Serialize;

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value).context("encoding JSON")?);
    Ok(())
}

pub async fn create(client: &Client, args: CreateArgs) -> anyhow::Result<()> {
    let repo =
        std::path::absolute(&args.repo).with_context(|| format!("resolving {}", args.repo.display()))?;
    let name = args.name.as_deref().map(clauderon_types::SessionName::parse).transpose()?;
    let req = CreateSessionRequest {
        repo_path: repo.to_string_lossy().into_owned(),
        prompt: args.prompt,
        name,
        backend: args.backend,
        agent: args.agent,
        access_mode: args.access_mode,
        base: args.base,
    };
    if !args.json {
        eprintln!("creating a session in {} …", repo.display());
    }
    let s = client.create(&req).await?;
    if args.json {
        return print_json(&s);
    }
    println!(
        "created {} ({}, {} agent, {}) on branch {}",
        s.name, s.backend, s.agent, s.access_mode, s.branch
    );
    println!("worktree: {}", s.worktree_path.display());
    Ok(())
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
    if args.json {
        return print_json(&list.sessions);
    }
    println!("{}", style.sessions_table(&list.sessions, chrono::Utc::now()));
    Ok(())
}

pub async fn show(client: &Client, args: NameArgs, style: Style) -> anyhow::Result<()> {
    let detail = client.get(&args.name).await?;
    if args.json {
        return print_json(&detail);
    }
    println!("{}", style.session_detail(&detail, chrono::Utc::now()));
    Ok(())
}

pub async fn archive(client: &Client, args: NameArgs, archive: bool) -> anyhow::Result<()> {
    let s = if archive { client.archive(&args.name).await? } else { client.unarchive(&args.name).await? };
    if args.json {
        return print_json(&s);
    }
    println!("{} {}", if archive { "archived" } else { "unarchived" }, s.name);
    Ok(())
}

pub async fn delete(client: &Client, args: DeleteArgs) -> anyhow::Result<()> {
    let q = DeleteQuery { force: args.force, delete_branch: args.delete_branch };
    let s = client.delete(&args.name, &q).await?;
    if args.json {
        return print_json(&s);
    }
    if args.delete_branch {
        println!("deleted {} and its branch {}", s.name, s.branch);
    } else {
        println!("deleted {}; its branch {} is kept", s.name, s.branch);
    }
    Ok(())
}

pub async fn set_access_mode(client: &Client, args: SetAccessModeArgs) -> anyhow::Result<()> {
    let s = client.set_access_mode(&args.name, args.mode).await?;
    if args.json {
        return print_json(&s);
    }
    println!("{} is now {}", s.name, s.access_mode);
    Ok(())
}

pub fn config(layout: &DataLayout, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Path => println!("{}", layout.config_file().display()),
        ConfigCommand::Example => print!("{}", clauderon_core::config::EXAMPLE_CONFIG),
        ConfigCommand::Show => {
            let config = clauderon_core::Config::load(layout)?;
            print!("{}", config.to_toml_string());
        }
    }
    Ok(())
}

pub async fn version(client: &Client, json: bool) -> anyhow::Result<()> {
    let daemon = client.version().await.ok();
    if json {
        return print_json(&serde_json::json!({
            "cli": clauderon_types::VERSION,
            "daemon": daemon.as_ref().map(|d| d.version.clone()),
        }));
    }
    println!("clauderon {}", clauderon_types::VERSION);
    match daemon {
        Some(d) => println!("daemon {} (API v{})", d.version, d.api),
        None => println!("daemon: not running"),
    }
    Ok(())
}
