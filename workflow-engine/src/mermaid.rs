//! A workflow as a Mermaid `stateDiagram-v2`, for documentation and the admin UI.

use std::fmt::Write as _;

use crate::load::Workflow;
use crate::model::TimerDef;

/// Draws `wf` as a Mermaid `stateDiagram-v2`:
///
/// - `[*] --> initial`, and `terminal --> [*]` for every terminal state;
/// - one arrow per transition and state it leaves, labelled with its name; an approval rule
///   adds `(approval n of m)`, a transition only timers and the system fire adds `(system)`;
/// - one arrow per timer that fires a transition, labelled
///   `transition (timer name, PT24H)` or `(timer name, at field -PT1H)`; a transition that
///   only timers fire gets no other arrow;
/// - a note on the state for every escalation timer.
pub fn mermaid(wf: &Workflow) -> String {
    let def = wf.definition();
    let mut out = String::from("stateDiagram-v2\n");
    let _ = writeln!(out, "    [*] --> {}", wf.initial().name);
    for t in &def.transitions {
        let timers: Vec<&TimerDef> = def
            .timers
            .iter()
            .filter(|timer| timer.fire.as_deref() == Some(t.name.as_str()))
            .collect();
        if !t.system_only() || timers.is_empty() {
            let mark = match &t.approval {
                Some(rule) => {
                    format!(" (approval {} of {})", rule.quorum(), rule.approvers.len())
                }
                None if t.system_only() => " (system)".to_string(),
                None => String::new(),
            };
            for from in t.from.names() {
                let _ = writeln!(out, "    {from} --> {}: {}{mark}", t.to, t.name);
            }
        }
        for timer in timers {
            let _ = writeln!(
                out,
                "    {} --> {}: {} (timer {}, {})",
                timer.in_state,
                t.to,
                t.name,
                timer.name,
                when(timer)
            );
        }
    }
    for s in def.states.iter().filter(|s| s.terminal) {
        let _ = writeln!(out, "    {} --> [*]", s.name);
    }
    for timer in &def.timers {
        if let Some(e) = &timer.escalate {
            let _ = writeln!(
                out,
                "    note right of {}: {} ({}) notifies {}",
                timer.in_state,
                timer.name,
                when(timer),
                e.notify.to.join(", ")
            );
        }
    }
    out
}

/// `PT24H`, `at slot_end` or `at slot_end -PT1H`.
fn when(timer: &TimerDef) -> String {
    match (&timer.after, &timer.at) {
        (Some(after), _) => after.clone(),
        (None, Some(at)) => match &timer.offset {
            Some(offset) => format!("at {at} {offset}"),
            None => format!("at {at}"),
        },
        (None, None) => String::new(),
    }
}
