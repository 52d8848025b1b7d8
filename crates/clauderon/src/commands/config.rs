//! `config path|show|example`, over `clauderon_core::config` (the daemon's own loader).

use crate::cli::ConfigCommand;
use crate::output::emit;
use clauderon_core::Config;
use clauderon_core::config::EXAMPLE_CONFIG;
use clauderon_types::DataLayout;

pub fn run(layout: &DataLayout, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Path => emit(&layout.config_file().display().to_string()),
        ConfigCommand::Example => emit(EXAMPLE_CONFIG.trim_end()),
        ConfigCommand::Show => emit(Config::load(layout)?.to_toml_string().trim_end()),
    }
}
