//! The full-screen `azlin top`: one row per VM, refreshed every second from
//! the daemon, sorted and filtered by key, with a detail view of one VM
//! (per-core CPU, and its busiest processes asked of its agent).
//!
//! Keys: `c` `m` `d` `n` sort by CPU, memory, disk, name; `/` filter
//! (Enter keeps it, Esc clears it); ↑ ↓ (or `k` `j`) select; Enter opens
//! the detail view and `p` there switches the process order; Esc goes
//! back; `q` quits.

use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::Result;
use azlin_protocol::stream::{ProcessInfo, ProcessSort};
use ratatui::{
    Frame,
    crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    layout::{Constraint, Layout},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Cell, Paragraph, Row, Table, TableState},
};

use super::table::{self, HEADER, Look, Sort};
use crate::{
    cli::figures,
    home::Home,
    ipc::{VmView, client::Client, processes::Processes},
};

/// How often the fleet is fetched again.
const REFRESH: Duration = Duration::from_secs(1);
/// How often the detail view asks for processes again.
const PROCESS_REFRESH: Duration = Duration::from_secs(3);
const PROCESS_LIMIT: u32 = 15;

enum Update {
    Fleet(Result<Vec<VmView>, String>),
    Processes {
        vm: String,
        result: Result<Vec<ProcessInfo>, String>,
    },
}

struct Detail {
    vm: String,
    sort: ProcessSort,
    processes: Option<Result<Vec<ProcessInfo>, String>>,
    asked: Option<Instant>,
}

struct App {
    vms: Vec<VmView>,
    sort: Sort,
    filter: String,
    editing: bool,
    selected: Option<String>,
    detail: Option<Detail>,
    error: Option<String>,
}

pub fn run(home: &Home, vms: Vec<VmView>, sort: Sort, filter: String) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    spawn_fleet_poller(home.clone(), tx.clone());
    let mut app = App {
        selected: vms.first().map(|v| v.name.clone()),
        vms,
        sort,
        filter,
        editing: false,
        detail: None,
        error: None,
    };
    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        loop {
            terminal.draw(|f| draw(f, &app))?;
            if event::poll(Duration::from_millis(100))?
                && let Event::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
                && !app.key(key.code, key.modifiers)
            {
                return Ok(());
            }
            while let Ok(update) = rx.try_recv() {
                app.apply(update);
            }
            app.ask_processes_if_due(home, &tx);
        }
    })();
    ratatui::restore();
    result
}

/// How often the dashboard asks the cloud too (power, prices); the other
/// refreshes keep the last cloud view.
const CLOUD_REFRESH: Duration = Duration::from_secs(60);

fn spawn_fleet_poller(home: Home, tx: mpsc::Sender<Update>) {
    std::thread::spawn(move || {
        let mut clouds: std::collections::BTreeMap<String, crate::ipc::CloudView> =
            Default::default();
        let mut asked: Option<Instant> = None;
        loop {
            std::thread::sleep(REFRESH);
            let cloud = asked.is_none_or(|at| at.elapsed() >= CLOUD_REFRESH);
            let fleet = super::fetch(&home, cloud)
                .map(|mut vms| {
                    if cloud {
                        asked = Some(Instant::now());
                        clouds = vms
                            .iter()
                            .filter_map(|v| Some((v.name.clone(), v.cloud.clone()?)))
                            .collect();
                    } else {
                        for v in &mut vms {
                            v.cloud = clouds.get(&v.name).cloned();
                        }
                    }
                    vms
                })
                .map_err(|e| format!("{e:#}"));
            if tx.send(Update::Fleet(fleet)).is_err() {
                return;
            }
        }
    });
}

impl App {
    fn visible(&self) -> Vec<&VmView> {
        table::select(&self.vms, self.sort, &self.filter)
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Fleet(Ok(vms)) => {
                self.vms = vms;
                self.error = None;
                self.keep_selection_visible();
            }
            Update::Fleet(Err(e)) => self.error = Some(e),
            Update::Processes { vm, result } => {
                if let Some(d) = &mut self.detail
                    && d.vm == vm
                {
                    d.processes = Some(result);
                }
            }
        }
    }

    fn keep_selection_visible(&mut self) {
        let names: Vec<String> = self.visible().iter().map(|v| v.name.clone()).collect();
        if !self.selected.as_ref().is_some_and(|s| names.contains(s)) {
            self.selected = names.first().cloned();
        }
    }

    fn move_selection(&mut self, by: isize) {
        let names: Vec<String> = self.visible().iter().map(|v| v.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|s| names.iter().position(|n| n == s))
            .unwrap_or(0) as isize;
        let next = (at + by).clamp(0, names.len() as isize - 1) as usize;
        self.selected = Some(names[next].clone());
    }

    /// Handle a key; false means quit.
    fn key(&mut self, code: KeyCode, mods: KeyModifiers) -> bool {
        if mods.contains(KeyModifiers::CONTROL) && code == KeyCode::Char('c') {
            return false;
        }
        if self.editing {
            match code {
                KeyCode::Enter => self.editing = false,
                KeyCode::Esc => {
                    self.editing = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.keep_selection_visible();
            return true;
        }
        match code {
            KeyCode::Char('q') => return false,
            KeyCode::Esc | KeyCode::Backspace if self.detail.is_some() => self.detail = None,
            KeyCode::Esc => {
                self.filter.clear();
                self.keep_selection_visible();
            }
            KeyCode::Char('p') => {
                if let Some(d) = &mut self.detail {
                    d.sort = match d.sort {
                        ProcessSort::Cpu => ProcessSort::Memory,
                        ProcessSort::Memory => ProcessSort::Cpu,
                    };
                    d.asked = None;
                }
            }
            KeyCode::Char('c') => self.sort = Sort::Cpu,
            KeyCode::Char('m') => self.sort = Sort::Memory,
            KeyCode::Char('d') => self.sort = Sort::Disk,
            KeyCode::Char('n') => self.sort = Sort::Name,
            KeyCode::Char('/') => self.editing = true,
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Enter => {
                if let Some(vm) = &self.selected {
                    self.detail = Some(Detail {
                        vm: vm.clone(),
                        sort: ProcessSort::Cpu,
                        processes: None,
                        asked: None,
                    });
                }
            }
            _ => {}
        }
        true
    }

    fn ask_processes_if_due(&mut self, home: &Home, tx: &mpsc::Sender<Update>) {
        let Some(d) = &mut self.detail else { return };
        if d.asked.is_some_and(|t| t.elapsed() < PROCESS_REFRESH) {
            return;
        }
        d.asked = Some(Instant::now());
        let (home, tx, vm, sort) = (home.clone(), tx.clone(), d.vm.clone(), d.sort);
        std::thread::spawn(move || {
            let request = Processes {
                vm: vm.clone(),
                sort,
                limit: PROCESS_LIMIT,
            };
            let result = Client::connect_or_start(&home)
                .and_then(|c| c.call(request, |_, _| {}))
                .map_err(|e| format!("{e:#}"));
            let _ = tx.send(Update::Processes { vm, result });
        });
    }
}

fn look_style(look: Look) -> Style {
    match look {
        Look::Live => Style::default(),
        Look::Stale => Style::default().fg(Color::Yellow),
        Look::Lost => Style::default().fg(Color::Red).add_modifier(Modifier::DIM),
    }
}

fn draw(f: &mut Frame, app: &App) {
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let live = app
        .vms
        .iter()
        .filter(|v| table::look(v) == Look::Live)
        .count();
    let title = format!(
        " azlin top — {} VMs, {live} live — sort: {} ",
        app.vms.len(),
        app.sort.label()
    );
    f.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::REVERSED)),
        top,
    );
    match &app.detail {
        Some(d) => draw_detail(f, app, d, body),
        None => draw_table(f, app, body),
    }
    let help = if app.editing {
        format!("filter: {}▏ (Enter keep, Esc clear)", app.filter)
    } else if let Some(e) = &app.error {
        format!("daemon: {e}")
    } else if app.detail.is_some() {
        "p process order  Esc back  q quit".to_string()
    } else {
        let filter = if app.filter.is_empty() {
            String::new()
        } else {
            format!("[filter: {}]  ", app.filter)
        };
        format!("{filter}c/m/d/n sort  / filter  ↑↓ select  Enter details  q quit")
    };
    f.render_widget(Paragraph::new(help), bottom);
}

fn draw_table(f: &mut Frame, app: &App, area: ratatui::layout::Rect) {
    let visible = app.visible();
    let rows: Vec<table::Row> = visible.iter().map(|v| table::row(v)).collect();
    let widths: Vec<Constraint> = (0..HEADER.len())
        .map(|i| {
            let w = rows
                .iter()
                .map(|r| r.cells[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(4);
            Constraint::Length(w as u16)
        })
        .collect();
    let header =
        Row::new(HEADER.map(Cell::from)).style(Style::default().add_modifier(Modifier::BOLD));
    let selected = app
        .selected
        .as_ref()
        .and_then(|s| rows.iter().position(|r| &r.vm == s));
    let table = Table::new(
        rows.iter()
            .map(|r| Row::new(r.cells.clone()).style(look_style(r.look))),
        widths,
    )
    .header(header)
    .column_spacing(2)
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(selected);
    if rows.is_empty() {
        let text = if app.vms.is_empty() {
            "no VMs; create some with `azlin new --pool 3`"
        } else {
            "no VM matches the filter"
        };
        f.render_widget(Paragraph::new(text), area);
    } else {
        f.render_stateful_widget(table, area, &mut state);
    }
}

fn bar(percent: f32, width: usize) -> String {
    let filled = ((percent.clamp(0.0, 100.0) / 100.0) * width as f32).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(width - filled))
}

fn draw_detail(f: &mut Frame, app: &App, d: &Detail, area: ratatui::layout::Rect) {
    let vm = app.vms.iter().find(|v| v.name == d.vm);
    let mut lines: Vec<Line> = Vec::new();
    let Some(vm) = vm else {
        f.render_widget(
            Paragraph::new(format!("{} is no longer in the fleet", d.vm)),
            area,
        );
        return;
    };
    let row = table::row(vm);
    lines.push(Line::styled(
        format!(
            "{}  {}  sample age {}",
            row.cells[0], row.cells[1], row.cells[8]
        ),
        look_style(row.look).add_modifier(Modifier::BOLD),
    ));
    match &vm.sample {
        None => lines.push(Line::from("no sample yet")),
        Some(s) => {
            lines.push(Line::from(format!(
                "cpu {:.0}%  load {:.2} {:.2} {:.2}  memory {}  swap {}  uptime {}  users {}  processes {}",
                s.cpu_percent,
                s.load[0],
                s.load[1],
                s.load[2],
                figures::used_of(s.memory_used, s.memory_total),
                figures::used_of(s.swap_used, s.swap_total),
                figures::duration(s.uptime_secs),
                s.users,
                s.processes
            )));
            lines.push(Line::from("per-core cpu:"));
            for (i, c) in s.per_core.iter().enumerate() {
                lines.push(Line::from(format!(
                    "  core {i:>3} {} {c:>5.1}%",
                    bar(*c, 30)
                )));
            }
            for fs in &s.filesystems {
                lines.push(Line::from(format!(
                    "disk {}  {} ({})",
                    fs.mount,
                    figures::used_of(fs.used, fs.total),
                    fs.fs_type
                )));
            }
            let mut tmux = vec![Span::raw("tmux: ")];
            for t in s.tmux_sessions() {
                let style = if t.attached {
                    Style::default().add_modifier(Modifier::BOLD)
                } else {
                    Style::default().add_modifier(Modifier::DIM)
                };
                tmux.push(Span::styled(format!("{} ({}w) ", t.name, t.windows), style));
            }
            if let azlin_protocol::telemetry::Tmux::Unavailable { reason } = &s.tmux {
                tmux.push(Span::raw(reason.clone()));
            }
            lines.push(Line::from(tmux));
        }
    }
    let order = match d.sort {
        ProcessSort::Cpu => "cpu",
        ProcessSort::Memory => "memory",
    };
    lines.push(Line::from(""));
    lines.push(Line::styled(
        format!("top processes by {order}:"),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    match &d.processes {
        None => lines.push(Line::from("asking the agent…")),
        Some(Err(e)) => lines.push(Line::styled(e.clone(), Style::default().fg(Color::Red))),
        Some(Ok(list)) => {
            lines.push(Line::from(format!(
                "{:>8}  {:<10} {:>6}  {:>7}  COMMAND",
                "PID", "USER", "CPU%", "MEM"
            )));
            for p in list {
                lines.push(Line::from(format!(
                    "{:>8}  {:<10} {:>6.1}  {:>7}  {}",
                    p.pid,
                    p.user,
                    p.cpu_percent,
                    figures::bytes(p.memory_bytes),
                    p.command
                        .chars()
                        .filter(|c| !c.is_control())
                        .collect::<String>()
                )));
            }
        }
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" {} ", vm.name))),
        area,
    );
}
