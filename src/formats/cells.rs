//! One cell of structured data (a CSV field, a JSON string, a Parquet value) through detection,
//! policy and transform, shared by every structured format so they all treat a column the same
//! way: a classified column's value is one finding of its entity (an age only when over 89), a
//! kept column is untouched, anything else is scanned with the column name as context.
//!
//! The format says where a cell stands through [`Place`], which maps positions inside the
//! decoded value to stream offsets, lines and columns, so reports stay exact whatever the
//! escaping.

use std::io;
use std::sync::Arc;

use super::cell_cache::CellCache;
use crate::classify::{ColumnClass, ColumnRules, How};
use crate::detect::{engine::column_rule_id, Context, Finding, Scanner};
use crate::entity::Entity;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::{Action, ColumnOverride};

/// Where a byte of a cell's decoded value stands in the input: stream offset, 1-based line and
/// 1-based character column.
pub type Place<'a> = &'a dyn Fn(usize) -> (u64, u64, u64);

/// Rewrites cells; holds a scanner and the totals.
pub struct Cells<'e> {
    engine: &'e Engine,
    scanner: Scanner,
    found: Vec<Finding>,
    /// The rewritten value of the last cell that changed.
    pub value: Vec<u8>,
    pub stats: Stats,
    /// The current row's subject (`--subject-column`), keying its date shift.
    subject: Vec<u8>,
    has_subject: bool,
    /// Policy column overrides already looked up, by column name.
    overrides: std::collections::HashMap<Arc<str>, Option<ColumnOverride>>,
    /// The date offset of the current subject, once asked for.
    offset: Option<i64>,
    /// The policy's action for a whole-column value of each entity, once looked up.
    column_actions: Vec<Option<Action>>,
    /// Replacements of repeated whole-column values.
    cache: CellCache,
}

impl<'e> Cells<'e> {
    pub fn new(engine: &'e Engine) -> Cells<'e> {
        Cells {
            engine,
            scanner: engine.detector.scanner(),
            found: Vec::new(),
            value: Vec::new(),
            stats: Stats::default(),
            subject: Vec::new(),
            has_subject: false,
            overrides: std::collections::HashMap::new(),
            offset: None,
            column_actions: vec![None; Entity::ALL.len()],
            cache: CellCache::default(),
        }
    }

    /// Sets the subject of the row about to be processed (`None`: no subject column, or an
    /// empty cell), so its dates move by that subject's keyed offset.
    pub fn set_subject(&mut self, subject: Option<&[u8]>) {
        let s = subject.map(<[u8]>::trim_ascii).unwrap_or_default();
        if self.subject == s {
            // The same subject as the row before (rows of one patient): same offset.
            return;
        }
        self.subject.clear();
        self.has_subject = !s.is_empty();
        self.subject.extend_from_slice(s);
        self.offset = None;
    }

    /// The current subject's date offset (one HMAC per subject, not per date).
    fn offset(&mut self) -> i64 {
        if let Some(o) = self.offset {
            return o;
        }
        let subject = self.has_subject.then_some(self.subject.as_slice());
        let o = self.engine.transformer.subject_offset(subject);
        self.offset = Some(o);
        o
    }

    /// Appends to [`Cells::value`] the replacement of a whole-column `value`, from the cache
    /// when the column has just seen it (see [`CellCache`]).
    fn replace(&mut self, action: Action, e: Entity, value: &[u8], field: Option<&Arc<str>>) {
        let offset = self.offset();
        let t = &self.engine.transformer;
        // A date shifted by its row's subject depends on more than the value: never cached.
        let by_subject = action == Action::Shift && self.has_subject;
        let Some(f) = field.filter(|_| !by_subject) else {
            t.apply_offset(action, e, value, offset, &mut self.value);
            return;
        };
        let id = Arc::as_ptr(f).cast::<u8>() as usize;
        if self.cache.get(id, e, action, value, &mut self.value) {
            return;
        }
        t.apply_offset(action, e, value, offset, &mut self.value);
        self.cache.store(value, &self.value);
    }

    fn column_override(
        &mut self,
        table: Option<&str>,
        field: Option<&Arc<str>>,
    ) -> Option<ColumnOverride> {
        if !self.engine.transformer.policy().has_column_overrides() {
            return None;
        }
        let f = field?;
        if let Some(o) = self.overrides.get(f) {
            return *o;
        }
        let o = self.engine.transformer.policy().column_override(table, f);
        self.overrides.insert(f.clone(), o);
        o
    }

    /// Classifies a column from its name and sample values.
    pub fn classify(
        &mut self,
        columns: &ColumnRules,
        name: &str,
        samples: &[&[u8]],
    ) -> ColumnClass {
        columns.classify(name, samples, &mut self.scanner, self.engine.min_score)
    }

    /// Totals, and the scanner back to the pool.
    pub fn finish(self) -> Stats {
        self.engine.detector.recycle(self.scanner);
        self.stats
    }

    /// Detects (and with `scrub` rewrites into [`Cells::value`]) one cell of a column of class
    /// `class` named `field`, at data row `row`. Returns whether the value changed.
    ///
    /// # Errors
    /// Only what `found` returns.
    #[allow(clippy::too_many_arguments)]
    pub fn cell(
        &mut self,
        value: &[u8],
        class: &ColumnClass,
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
        scrub: bool,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        if value.is_empty() {
            return Ok(false);
        }
        match self.column_override(opts.table, field) {
            Some(ColumnOverride::Keep) => Ok(false),
            Some(ColumnOverride::Scan) => self.scan(value, field, row, place, opts, scrub, found),
            Some(ColumnOverride::Whole { entity, action }) => {
                let e = entity.or(class.entity).unwrap_or(Entity::OtherId);
                self.whole(
                    value,
                    e,
                    Some(How::Header),
                    Some(action),
                    field,
                    row,
                    place,
                    opts,
                    scrub,
                    found,
                )
            }
            None if class.keep => Ok(false),
            None => match class.entity {
                Some(e) => self.whole(
                    value, e, class.how, None, field, row, place, opts, scrub, found,
                ),
                None => self.scan(value, field, row, place, opts, scrub, found),
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn whole(
        &mut self,
        value: &[u8],
        e: Entity,
        how: Option<How>,
        action: Option<Action>,
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
        scrub: bool,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        let trimmed = value.trim_ascii();
        if trimmed.is_empty() || !self.engine.filter.allows(e) {
            return Ok(false);
        }
        if e == Entity::AgeOver89 && !age_over_89(trimmed) {
            return Ok(false);
        }
        let score = match how {
            Some(How::Both) => 0.99,
            Some(How::Header) => 0.95,
            _ => 0.9,
        };
        let rule = self.engine.detector.column_rule(e);
        let loc = self.locate(
            0,
            value.len(),
            e,
            rule,
            score,
            value,
            field,
            row,
            place,
            opts,
        );
        found(&loc).map_err(PipelineError::Report)?;
        self.stats.findings += 1;
        let action = match action.or(self.column_actions[e.index()]) {
            Some(a) => a,
            None => {
                let a = self.engine.transformer.action(e, &column_rule_id(e));
                self.column_actions[e.index()] = Some(a);
                a
            }
        };
        if !scrub || action == Action::Keep {
            return Ok(false);
        }
        self.value.clear();
        self.replace(action, e, value, field);
        self.stats.changed += 1;
        Ok(self.value != value)
    }

    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        value: &[u8],
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
        scrub: bool,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        let mut hits = std::mem::take(&mut self.found);
        hits.clear();
        self.scanner.scan(
            value,
            0,
            &Context {
                field: field.map(|f| &**f),
            },
            &mut hits,
        );
        let (min, filter) = (self.engine.min_score, &self.engine.filter);
        hits.retain(|h| h.score >= min && filter.allows(h.entity));
        if hits.is_empty() {
            self.found = hits;
            return Ok(false);
        }
        let rules = self.engine.detector.rules();
        self.value.clear();
        let (mut pos, mut changed) = (0, false);
        for h in &hits {
            let loc = self.locate(
                h.start,
                h.end,
                h.entity,
                h.rule,
                h.score,
                &value[h.start..h.end],
                field,
                row,
                place,
                opts,
            );
            found(&loc).map_err(PipelineError::Report)?;
            self.stats.findings += 1;
            let rule_id = &rules[h.rule as usize].id;
            self.value.extend_from_slice(&value[pos..h.start]);
            let action = self.engine.transformer.action(h.entity, rule_id);
            if scrub && action != Action::Keep {
                let offset = self.offset();
                self.engine.transformer.apply_offset(
                    action,
                    h.entity,
                    &value[h.start..h.end],
                    offset,
                    &mut self.value,
                );
                self.stats.changed += 1;
                changed = true;
            } else {
                self.value.extend_from_slice(&value[h.start..h.end]);
            }
            pos = h.end;
        }
        self.value.extend_from_slice(&value[pos..]);
        self.found = hits;
        Ok(changed && self.value != value)
    }

    #[allow(clippy::too_many_arguments)]
    fn locate(
        &self,
        start: usize,
        end: usize,
        entity: Entity,
        rule: u32,
        score: f32,
        value: &[u8],
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
    ) -> Located {
        let ((s, line, column), (e, _, _)) = if opts.positions {
            (place(start), place(end))
        } else {
            ((0, 0, 0), (0, 0, 0))
        };
        Located {
            start: s,
            end: e,
            line,
            column,
            char_start: None,
            char_end: None,
            entity,
            rule,
            score,
            fingerprint: if opts.fingerprints {
                self.engine.transformer.fingerprint(entity, value)
            } else {
                None
            },
            field: field.cloned(),
            row: Some(row),
        }
    }
}

/// Whether a cell of an age column is over 89 (only those change).
fn age_over_89(v: &[u8]) -> bool {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().split(['.', ' ']).next()?.parse::<u32>().ok())
        .is_some_and(|n| n > 89)
}
