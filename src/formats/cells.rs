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

use super::cell_cache::{CellCache, CleanCells, ShortKeys};
use crate::classify::{ColumnClass, ColumnRules, How};
use crate::detect::{engine::column_rule_id, Context, Finding, Scanner};
use crate::entity::Entity;
use crate::formats::sqltype::SqlType;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::{Action, ColumnOverride, UnknownColumns};
use crate::transform::mask;

/// Where a byte of a cell's decoded value stands in the input: stream offset, 1-based line and
/// 1-based character column.
pub type Place<'a> = &'a dyn Fn(usize) -> (u64, u64, u64);

/// Rewrites cells; holds a scanner and the totals.
pub struct Cells<'e> {
    engine: &'e Engine,
    scanner: Scanner,
    found: Vec<Finding>,
    /// A shaped value's normalized form, for the collision watch (reused, not allocated).
    norm: Vec<u8>,
    /// `norm` holds the current whole-column value's form (the shape made from it).
    norm_ready: bool,
    /// The rewritten value of the last cell that changed.
    pub value: Vec<u8>,
    pub stats: Stats,
    /// The current row's subject (`--subject-column`), keying its date shift.
    subject: Vec<u8>,
    has_subject: bool,
    /// Policy column overrides already looked up, by column name.
    overrides: std::collections::HashMap<Arc<str>, Option<ColumnOverride>, ShortKeys>,
    /// The last look-ups, by the name's address ([`RECENT`] slots). Only names `overrides`
    /// holds a clone of are entered, so an address here is never reused by another name.
    recent: Vec<Option<(usize, Option<ColumnOverride>)>>,
    /// The date offset of the current subject, once asked for.
    offset: Option<i64>,
    /// The policy's action for a whole-column value of each entity, once looked up.
    column_actions: Vec<Option<Action>>,
    /// Replacements of repeated whole-column values.
    cache: CellCache,
    /// Values of scanned columns a scan found nothing in.
    clean: CleanCells,
    /// The last cell's replacement needs no collision check: it came from the cache (and was
    /// checked when made) or from the id permutation (distinct ids stay distinct).
    checked: bool,
    /// Whole-cell findings by entity not yet handed on ([`RunOptions::tally`]).
    tally: Vec<u64>,
    /// Columns (by the name's address) whose values were permuted as ids, with the entity:
    /// what [`Cells::permuted_id`] tells a format that prefetches the next chunk's ids.
    permuted: Vec<(usize, Entity)>,
}

/// Slots of the by-address memo of column overrides.
const RECENT: usize = 1 << RECENT_BITS;
const RECENT_BITS: u32 = 6;

/// What [`Cells::replace`] did.
struct Replaced {
    shaped: bool,
    /// See [`Cells::checked`].
    checked: bool,
}

impl<'e> Cells<'e> {
    pub fn new(engine: &'e Engine) -> Cells<'e> {
        Cells {
            engine,
            scanner: engine.detector.scanner(),
            found: Vec::new(),
            norm: Vec::new(),
            norm_ready: false,
            value: Vec::new(),
            stats: Stats::default(),
            subject: Vec::new(),
            has_subject: false,
            overrides: std::collections::HashMap::default(),
            recent: vec![None; RECENT],
            offset: None,
            column_actions: vec![None; Entity::ALL.len()],
            cache: CellCache::default(),
            clean: CleanCells::default(),
            checked: false,
            tally: vec![0; Entity::ALL.len()],
            permuted: Vec::new(),
        }
    }

    /// Sets the subject of the row about to be processed (`None`: no subject column, or an
    /// empty cell), so its dates move by that subject's keyed offset.
    pub fn set_subject(&mut self, subject: Option<&[u8]>) {
        let s = subject.map(<[u8]>::trim_ascii).unwrap_or_default();
        // Two empty subjects (no `--subject-column`, every row) are told apart without `==`:
        // glibc's AVX-512 memcmp does a masked load even for length 0, and from an empty
        // Vec's dangling address that load takes a fault-suppression assist on AMD cores
        // (about 120 ns a row, a tenth of a CSV scrub).
        if s.is_empty() && self.subject.is_empty() || self.subject == s {
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

    /// Writes into [`Cells::value`] the final replacement of a whole-column `value` (the
    /// policy's action, fitted to the column's SQL type `ty`) and returns whether it is
    /// shape-preserving and whether it came from the cache (see [`CellCache`]): a column that
    /// repeats its values pays for one HMAC per distinct value still in the cache.
    fn replace(
        &mut self,
        action: Action,
        e: Entity,
        value: &[u8],
        ty: Option<&SqlType>,
        field: Option<&Arc<str>>,
    ) -> Replaced {
        // A date shifted by its row's subject depends on more than the value: never cached.
        let dated =
            ty.is_some_and(|t| matches!(t, SqlType::Date | SqlType::Timestamp | SqlType::Json));
        let by_subject = self.has_subject && (action == Action::Shift || dated);
        let id = field
            .filter(|_| !by_subject)
            .map(|f| Arc::as_ptr(f).cast::<u8>() as usize);
        if let Some(id) = id {
            if let Some(shaped) = self.cache.get(id, e, &action, ty, value, &mut self.value) {
                return Replaced {
                    shaped,
                    checked: true,
                };
            }
        }
        let mut shaped = action == Action::Shape;
        let mut bijective = false;
        // A `permute`d value cannot collide with another of its column either.
        let mut distinct = false;
        match ty {
            Some(ty) => {
                // A photo in a binary column always becomes a blank image of its own format;
                // a token the column can never take is not computed at all.
                let photo = e == Entity::Photo && matches!(ty, SqlType::Binary { .. });
                let no_token =
                    action == Action::Token && !ty.takes_token(crate::transform::token::len(e));
                if photo || no_token {
                    (shaped, bijective) = self.fit(ty, e, value);
                } else {
                    self.apply(action, e, value);
                    distinct = action == Action::Permute && permutes(value);
                    if !ty.accepts(&self.value) {
                        (shaped, bijective) = self.fit(ty, e, value);
                        distinct = false;
                    }
                }
            }
            None => {
                self.apply(action, e, value);
                distinct = action == Action::Permute && permutes(value);
            }
        }
        if id.is_some() {
            self.cache.store(value, &self.value, shaped);
        }
        if let (true, Some(f)) = (bijective, field) {
            let f = Arc::as_ptr(f).cast::<u8>() as usize;
            if !self.permuted.contains(&(f, e)) {
                self.permuted.push((f, e));
            }
        }
        Replaced {
            shaped,
            checked: bijective || distinct,
        }
    }

    /// The policy's `action` on a whole-column `value` into [`Cells::value`]. A shape is made
    /// from the canonical form the collision watch needs too, worked out once into `norm`.
    fn apply(&mut self, action: Action, e: Entity, value: &[u8]) {
        let t = &self.engine.transformer;
        if action == Action::Shape {
            self.norm.clear();
            crate::transform::normalize::normalize_into(e, value, &mut self.norm);
            self.norm_ready = t.shape_normalized(e, value, &self.norm, &mut self.value);
            if self.norm_ready {
                return;
            }
        }
        let offset = self.offset();
        t.apply_offset(action, e, value, offset, &mut self.value);
    }

    /// The engine the cells are rewritten with.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The entity and the type's limit under which the integer column `field` (of class
    /// `class`) had its ids permuted, once one was: a format can then hand the column's next
    /// values to [`Transformer::prefetch_digits`].
    ///
    /// [`Transformer::prefetch_digits`]: crate::transform::Transformer::prefetch_digits
    pub fn permuted_id(&self, class: &ColumnClass, field: &Arc<str>) -> Option<(Entity, u128)> {
        let Some(SqlType::Integer { max, .. }) = class.sql_type else {
            return None;
        };
        let f = Arc::as_ptr(field).cast::<u8>() as usize;
        let e = self.permuted.iter().find(|(p, _)| *p == f)?.1;
        Some((e, max))
    }

    /// Records the policy override of `field` ahead of time, for a format that resolves the
    /// `[columns]` globs itself (a dump, whose columns answer to `schema.table.column` and to
    /// `table.column` alike). A field already looked up keeps what it had.
    pub fn preset_override(&mut self, field: &Arc<str>, o: Option<ColumnOverride>) {
        if !self.overrides.contains_key(field) {
            self.overrides.insert(field.clone(), o);
        }
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
        // By the name's address first: a row's cells cycle through the same few names, and
        // even a cheap hash of each name was a twentieth of a dump's time. The slot is a
        // multiplicative hash of the address: its low bits alone put names allocated a page
        // apart into one slot, and the two then evicted each other on every cell. No clone of
        // the name is kept here (its reference count is shared by every worker: each miss was
        // a contended atomic, a tenth of a two-thread dump).
        let addr = Arc::as_ptr(f).cast::<u8>() as usize;
        let at = ((addr as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT_BITS)) as usize;
        if let Some((name, o)) = self.recent[at] {
            if name == addr {
                return o;
            }
        }
        let o = match self.overrides.get(f) {
            Some(o) => *o,
            None => {
                let o = self.engine.transformer.policy().column_override(table, f);
                self.overrides.insert(f.clone(), o);
                o
            }
        };
        self.recent[at] = Some((addr, o));
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

    /// Forgets the policy look-ups memoized by column name, so a long stream of ever new names
    /// (a line filter) keeps the memo bounded.
    pub fn forget_columns(&mut self) {
        self.overrides.clear();
        self.recent.iter_mut().for_each(|r| *r = None);
    }

    /// Counts `n` findings of `e` into the tally (a format replaying findings it already
    /// knows, such as a Parquet dictionary value's for each row that uses it).
    pub fn add_to_tally(&mut self, e: Entity, n: u64) {
        self.tally[e.index()] += n;
    }

    /// Hands on the whole-cell findings counted since the last call under
    /// [`RunOptions::tally`], one per entity with its count. A format calls it at the end of
    /// each chunk (and `finish` would lose what is left).
    ///
    /// # Errors
    /// What `found` returns.
    pub fn flush_tally(
        &mut self,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> io::Result<()> {
        for (i, n) in self.tally.iter_mut().enumerate() {
            if *n == 0 {
                continue;
            }
            let e = Entity::ALL[i];
            let loc = Located {
                count: std::mem::take(n),
                ..Located::unplaced(e, self.engine.detector.column_rule(e), 0.9)
            };
            found(&loc)?;
        }
        Ok(())
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
    /// What `found` returns, and a collision in a column declared unique: two different
    /// values with one replacement (the message names the column and both rows, never a
    /// value), since the restore would fail on it.
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
        self.checked = false;
        let changed = self.rewrite(value, class, field, row, place, opts, scrub, found)?;
        if let (true, true, Some(f), false) = (changed, class.unique, field, self.checked) {
            let t = &self.engine.transformer;
            if let Some(first) = t.collisions().check(f, value, &self.value, row) {
                let (a, b) = (first.min(row), first.max(row));
                if t.key().is_none() {
                    return Err(PipelineError::Format(format!(
                        "column {f} is a unique key, but rows {a} and {b} get the same \
                         replacement for different values, so the restore would fail; without \
                         a key its values cannot be replaced by distinct ones: give one \
                         (`phiscrub keygen`), or keep the column in the policy's [columns]"
                    )));
                }
                return Err(PipelineError::Format(format!(
                    "column {f} is a unique key, but rows {a} and {b} get the same replacement \
                     for different values, so the restore would fail; give this column an \
                     action whose replacements cannot collide in the policy's [columns] (`permute`, which \
                     keeps the length, or `token` where the column is wide enough)"
                )));
            }
        }
        Ok(changed)
    }

    #[allow(clippy::too_many_arguments)]
    fn rewrite(
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
        let ty = class.sql_type.as_ref();
        match self.column_override(opts.table, field) {
            Some(ColumnOverride::Keep) => Ok(false),
            Some(ColumnOverride::Scan) => {
                self.scan(value, ty, field, row, place, opts, scrub, found)
            }
            Some(ColumnOverride::Whole { entity, action }) => {
                let e = entity.or(class.entity).unwrap_or(Entity::OtherId);
                let how = Some(How::Header);
                let w = Whole {
                    e,
                    how,
                    action: Some(action),
                    ty,
                    unique: class.unique,
                };
                self.whole(value, w, field, row, place, opts, scrub, found)
            }
            None if class.keep => Ok(false),
            None => match class.entity {
                Some(e) => {
                    let w = Whole {
                        e,
                        how: class.how,
                        action: None,
                        ty,
                        unique: class.unique,
                    };
                    self.whole(value, w, field, row, place, opts, scrub, found)
                }
                None => match self.engine.transformer.policy().unknown_columns {
                    UnknownColumns::Scan => {
                        self.scan(value, ty, field, row, place, opts, scrub, found)
                    }
                    UnknownColumns::Keep => Ok(false),
                    // Typed non-text columns of a dump would not load a mask: scan those.
                    UnknownColumns::Mask
                        if ty.is_some_and(|t| !matches!(t, SqlType::Text { .. })) =>
                    {
                        self.scan(value, ty, field, row, place, opts, scrub, found)
                    }
                    UnknownColumns::Mask => {
                        let action = Some(Action::Mask {
                            ch: '*',
                            keep_last: 0,
                        });
                        let w = Whole {
                            e: Entity::OtherId,
                            how: None,
                            action,
                            ty,
                            unique: false,
                        };
                        self.whole(value, w, field, row, place, opts, scrub, found)
                    }
                },
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn whole(
        &mut self,
        value: &[u8],
        w: Whole<'_>,
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
        scrub: bool,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        let Whole {
            e,
            how,
            action,
            ty,
            unique,
        } = w;
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
        if opts.tally {
            self.tally[e.index()] += 1;
        } else {
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
        }
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
        self.norm_ready = false;
        let Replaced { shaped, checked } = self.replace(action, e, value, ty, field);
        // A cached replacement was checked when it was made: the same value again tells the
        // collision watch nothing new. A permuted id cannot collide at all.
        self.checked = checked;
        // Shaped values of other columns: a collision merges two people, counted as a warning
        // (a unique column is checked for every action by `cell`).
        if let (true, false, Some(f), false) = (shaped, unique, field, checked) {
            if !self.norm_ready {
                self.norm.clear();
                crate::transform::normalize::normalize_into(e, value, &mut self.norm);
            }
            let watch = self.engine.transformer.collisions();
            watch.count(f, &self.norm, &self.value, row);
        }
        self.stats.changed += 1;
        Ok(self.value != value)
    }

    /// Rewrites [`Cells::value`] as a replacement of `value` (a whole cell of entity `e`) that
    /// a column of type `ty` accepts, when the policy's own replacement did not fit: numbers
    /// become keyed numbers of the same digit count (a permutation, so unique keys survive),
    /// dates move by the keyed shift (or to January 1st of their year without a key), UUIDs
    /// and addresses get keyed values of their own form, text too long for its column gets a
    /// same-length shape (or mask) instead of a token. Whatever still does not fit is masked
    /// character for character, which fits every column the original fitted.
    /// Returns whether the fitted value is a shape-preserving replacement, and whether it is
    /// the keyed permutation of a number (distinct numbers of a column stay distinct).
    fn fit(&mut self, ty: &SqlType, e: Entity, value: &[u8]) -> (bool, bool) {
        let mut out = std::mem::take(&mut self.value);
        out.clear();
        let subject = self.has_subject.then_some(self.subject.as_slice());
        let fitted = Self::fit_into(self.engine, ty, e, value, subject, &mut out);
        self.value = out;
        fitted
    }

    fn fit_into(
        engine: &Engine,
        ty: &SqlType,
        e: Entity,
        value: &[u8],
        subject: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> (bool, bool) {
        let t = &engine.transformer;
        let keyed = t.key().is_some();
        let mut shaped = false;
        let mut permuted = false;
        match ty {
            SqlType::Integer { max, .. } => {
                permuted = t.permute_digits(e, value.trim_ascii(), Some(*max), out);
                if !permuted {
                    mask::mask(value, '0', 0, out);
                }
            }
            SqlType::Date | SqlType::Timestamp => match crate::dates::parse(value) {
                Some(_) if keyed => t.apply_with(Action::Shift, Entity::Date, value, subject, out),
                Some(d) => out.extend_from_slice(&d.year_start()),
                None => out.extend_from_slice(value),
            },
            SqlType::Uuid => t.uuid_for(e, value, out),
            SqlType::Inet => t.ip_for(e, value, value.contains(&b':'), out),
            SqlType::Json => {
                // A whole JSON cell becomes one JSON string holding the replacement.
                let mut inner = Vec::new();
                t.apply_with(
                    t.action(e, &column_rule_id(e)),
                    e,
                    value,
                    subject,
                    &mut inner,
                );
                let s = String::from_utf8_lossy(&inner);
                out.extend_from_slice(serde_json::Value::from(s.as_ref()).to_string().as_bytes());
            }
            SqlType::Binary { .. } if e == Entity::Photo => {
                if let Some(kind) = crate::formats::image::sniff(value) {
                    out.extend_from_slice(crate::formats::image::blank(kind));
                }
            }
            _ if keyed => {
                t.apply_with(Action::Shape, e, value, subject, out);
                shaped = true;
            }
            _ => mask::mask(value, '*', 0, out),
        }
        if !ty.accepts(out) {
            out.clear();
            let ch = if ty.is_numeric() { '0' } else { '*' };
            mask::mask(value, ch, 0, out);
            shaped = false;
            permuted = false;
        }
        (shaped, permuted)
    }

    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        value: &[u8],
        ty: Option<&SqlType>,
        field: Option<&Arc<str>>,
        row: u64,
        place: Place<'_>,
        opts: &RunOptions<'_>,
        scrub: bool,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        if field.is_some_and(|f| self.clean.known(f, value)) {
            return Ok(false);
        }
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
        hits.retain(|h| {
            h.score >= min
                && filter.allows(h.entity)
                && !crate::transform::token::within_own(value, h.start, h.end)
        });
        if hits.is_empty() {
            self.found = hits;
            // Only a value `known` was asked about: a cell without a column name (past the
            // end of a CSV header) was not, and what is pending is an earlier cell's slot.
            if field.is_some() {
                self.clean.mark(value);
            }
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
        if let Some(ty) = ty.filter(|t| changed && !t.accepts(&self.value)) {
            // Too long for its column (a token is longer than the value it replaces): the
            // same findings again with length-preserving replacements.
            self.value.clear();
            let mut pos = 0;
            let keyed = self.engine.transformer.key().is_some();
            for h in &hits {
                self.value.extend_from_slice(&value[pos..h.start]);
                let rule_id = &rules[h.rule as usize].id;
                let span = &value[h.start..h.end];
                match self.engine.transformer.action(h.entity, rule_id) {
                    Action::Keep => self.value.extend_from_slice(span),
                    // `permute` is already the same length; every other action becomes a shape.
                    a if keyed => {
                        let a = if a == Action::Permute {
                            a
                        } else {
                            Action::Shape
                        };
                        let subject = self.has_subject.then_some(self.subject.as_slice());
                        self.engine.transformer.apply_with(
                            a,
                            h.entity,
                            span,
                            subject,
                            &mut self.value,
                        )
                    }
                    _ => mask::mask(span, '*', 0, &mut self.value),
                }
                pos = h.end;
            }
            self.value.extend_from_slice(&value[pos..]);
            if !ty.accepts(&self.value) {
                self.value.clear();
                mask::mask(value, '*', 0, &mut self.value);
            }
        }
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
            count: 1,
        }
    }
}

/// How a whole cell is replaced: its entity, how its column was classified, the action when a
/// policy override names one, and the column's SQL type when the format knows it.
#[derive(Clone, Copy)]
struct Whole<'a> {
    e: Entity,
    how: Option<How>,
    action: Option<Action>,
    ty: Option<&'a SqlType>,
    unique: bool,
}

/// Whether the `permute` action permutes `value`'s digits (rather than shaping a value that
/// has none, or too many).
fn permutes(value: &[u8]) -> bool {
    (1..=38).contains(&value.iter().filter(|b| b.is_ascii_digit()).count())
}

/// Whether a cell of an age column is over 89 (only those change).
fn age_over_89(v: &[u8]) -> bool {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().split(['.', ' ']).next()?.parse::<u32>().ok())
        .is_some_and(|n| n > 89)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ColumnClass;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    fn engine(keyed: bool) -> Engine {
        let key = keyed.then(|| Key::from_bytes(&[5; 32]).unwrap());
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(keyed), key),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    fn class(e: Option<Entity>, decl: &str) -> ColumnClass {
        let mut c = ColumnClass::scanned("c");
        c.entity = e;
        c.how = e.map(|_| How::Header);
        c.sql_type = Some(SqlType::parse(decl));
        c
    }

    /// Scrubs one cell; returns the new value, or the old one when nothing changed.
    fn scrub(engine: &Engine, c: &ColumnClass, v: &[u8]) -> Vec<u8> {
        let mut cells = Cells::new(engine);
        let place = |_| (0, 0, 0);
        let opts = RunOptions::default();
        let changed = cells
            .cell(v, c, None, 1, &place, &opts, true, &mut |_| Ok(()))
            .unwrap();
        if changed {
            cells.value.clone()
        } else {
            v.to_vec()
        }
    }

    #[test]
    fn replacements_fit_their_column_type() {
        use Entity::*;
        let mut png = crate::formats::image::blank(crate::formats::image::ImageKind::Png).to_vec();
        png.extend_from_slice(b"a face, in synthetic bytes");
        let png = png.as_slice();
        for keyed in [true, false] {
            let e = engine(keyed);
            for (entity, decl, value) in [
                (Some(Ssn), "varchar(11)", &b"123-45-6789"[..]),
                (Some(Ssn), "char(9)", b"123456789"),
                (Some(OtherId), "integer", b"1048576"),
                (Some(OtherId), "bigint", b"-9000000000000"),
                (Some(Mrn), "int(10) unsigned", b"4000000000"),
                (Some(Location), "numeric(9,6)", b"-71.058891"),
                (Some(Location), "double precision", b"42.3601"),
                (Some(Date), "date", b"1961-04-12"),
                (
                    Some(Date),
                    "timestamp without time zone",
                    b"2021-03-04 10:22:01",
                ),
                (
                    Some(OtherId),
                    "uuid",
                    b"0e8a2c9e-3b7d-4c1f-9a55-2b1f6f0e9d11",
                ),
                (Some(IpAddress), "inet", b"192.168.7.20"),
                (Some(IpAddress), "inet", b"2001:db8::17"),
                (Some(Name), "jsonb", br#""Ana Diaz""#),
                (Some(Name), "varchar(3)", b"Ana"),
                (Some(Photo), "bytea", png),
                (None, "varchar(20)", b"SSN 123-45-6789 ok"),
            ] {
                let c = class(entity, decl);
                let out = scrub(&e, &c, value);
                let ty = c.sql_type.as_ref().unwrap();
                assert!(
                    ty.accepts(&out),
                    "keyed={keyed} {decl}: {:?}",
                    String::from_utf8_lossy(&out)
                );
                if keyed || !ty.is_numeric() {
                    assert_ne!(out, value, "keyed={keyed} {decl} unchanged");
                }
            }
        }
    }

    #[test]
    fn permuted_id_names_the_columns_a_format_may_prefetch() {
        let e = engine(true);
        // (entity, declared type, value, what `permuted_id` says after the cell)
        for (entity, decl, value, want) in [
            (
                Entity::OtherId,
                "integer",
                &b"1048576"[..],
                Some(i32::MAX as u128),
            ),
            (Entity::Mrn, "bigint", b"70490681", Some(i64::MAX as u128)),
            // Not a number: masked, not permuted.
            (Entity::OtherId, "integer", b"n/a", None),
            // Not an integer column: tokenized.
            (Entity::Mrn, "varchar(20)", b"M70490681", None),
        ] {
            let mut cells = Cells::new(&e);
            let c = class(Some(entity), decl);
            let (field, other): (Arc<str>, Arc<str>) = (Arc::from("t.id"), Arc::from("t.id"));
            assert_eq!(
                cells.permuted_id(&c, &field),
                None,
                "{decl} before any cell"
            );
            let place = |_| (0, 0, 0);
            let opts = RunOptions::default();
            cells
                .cell(value, &c, Some(&field), 1, &place, &opts, true, &mut |_| {
                    Ok(())
                })
                .unwrap();
            let got = cells.permuted_id(&c, &field);
            assert_eq!(got, want.map(|m| (entity, m)), "{decl}");
            // Known by the name's address: another column of the same name is not this one.
            assert_eq!(cells.permuted_id(&c, &other), None, "{decl}, other column");
        }
    }

    #[test]
    fn integer_keys_stay_unique_and_join() {
        let e = engine(true);
        let c = class(Some(Entity::OtherId), "integer");
        let mut seen = std::collections::HashSet::new();
        for id in 1..=5000u32 {
            let out = scrub(&e, &c, id.to_string().as_bytes());
            assert!(seen.insert(out.clone()), "collision for id {id}");
            // The same id in another table's column of the same type: the same replacement.
            let fk = class(Some(Entity::OtherId), "int4 NOT NULL");
            assert_eq!(scrub(&e, &fk, id.to_string().as_bytes()), out);
        }
    }

    #[test]
    fn shaped_collisions_fail_a_unique_column_and_are_counted_elsewhere() {
        let e = engine(true);
        // SSN shapes have 10^8 values: find two inputs with one replacement by brute force
        // over a small range, then replay them into a unique and a plain column.
        let mut seen = std::collections::HashMap::new();
        let c = class(Some(Entity::Ssn), "varchar(11)");
        let mut pair = None;
        for n in 0..200_000u32 {
            let d = (123_000_000 + n * 7).to_string();
            let v = format!("{}-{}-{}", &d[..3], &d[3..5], &d[5..]);
            let mut o = Vec::new();
            e.transformer
                .apply(Entity::Ssn, "ssn.dashed", v.as_bytes(), &mut o);
            if let Some(prev) = seen.insert(o, v.clone()) {
                pair = Some((prev, v));
                break;
            }
        }
        let (a, b) = pair.expect("a collision within 200k SSNs (birthday bound at 10^8)");
        let field: Arc<str> = Arc::from("patients.ssn");
        let run = |unique: bool| {
            let mut col = c.clone();
            col.unique = unique;
            let engine = engine(true);
            let mut cells = Cells::new(&engine);
            let place = |_| (0, 0, 0);
            let opts = RunOptions::default();
            let mut results = Vec::new();
            for v in [&a, &b] {
                results.push(
                    cells
                        .cell(
                            v.as_bytes(),
                            &col,
                            Some(&field),
                            1,
                            &place,
                            &opts,
                            true,
                            &mut |_| Ok(()),
                        )
                        .map_err(|e| e.to_string()),
                );
            }
            (results, engine.transformer.collisions().summary())
        };
        let (r, summary) = run(true);
        let err = r[1].clone().unwrap_err();
        assert!(
            err.contains("patients.ssn") && !err.contains(&a) && !err.contains(&b),
            "{err}"
        );
        assert!(summary.is_some());
        let (r, summary) = run(false);
        assert!(r.iter().all(Result::is_ok));
        assert!(summary.unwrap().contains("patients.ssn 1"));
        // `permute` keeps the pair apart in the unique column, same length, nothing counted.
        let mut col = c.clone();
        col.unique = true;
        let mut engine = engine(true);
        engine.transformer = Transformer::new(
            Policy::parse("[entities]\nSSN = \"permute\"\n", true).unwrap(),
            Some(Key::from_bytes(&[5; 32]).unwrap()),
        );
        let mut cells = Cells::new(&engine);
        let mut outs = Vec::new();
        for v in [&a, &b] {
            let changed = cells
                .cell(
                    v.as_bytes(),
                    &col,
                    Some(&field),
                    1,
                    &|_| (0, 0, 0),
                    &RunOptions::default(),
                    true,
                    &mut |_| Ok(()),
                )
                .expect("no collision");
            assert!(changed);
            outs.push(cells.value.clone());
        }
        assert_ne!(outs[0], outs[1]);
        assert!(outs
            .iter()
            .all(|o| o.len() == 11 && o[3] == b'-' && o[6] == b'-'));
        assert!(engine.transformer.collisions().summary().is_none());
    }

    #[test]
    fn unknown_columns_policy() {
        let mut e = engine(true);
        let c = class(None, "text");
        assert_eq!(scrub(&e, &c, b"status ok"), b"status ok");
        let mut p = e.transformer.policy().clone();
        p.unknown_columns = UnknownColumns::Mask;
        e.transformer = Transformer::new(p.clone(), e.transformer.key().cloned());
        assert_eq!(scrub(&e, &c, b"status ok"), b"****** **");
        // A typed non-text column is scanned instead: a mask would not load.
        let n = class(None, "integer");
        assert_eq!(scrub(&e, &n, b"42"), b"42");
        p.unknown_columns = UnknownColumns::Keep;
        e.transformer = Transformer::new(p, e.transformer.key().cloned());
        let t = class(None, "text");
        assert_eq!(scrub(&e, &t, b"SSN 123-45-6789"), b"SSN 123-45-6789");
    }

    /// The memo of clean scanned values changes nothing: the same findings, in the same
    /// order, and the same bytes as scanning every cell, over two columns that share their
    /// values but not their names (a name is context the detector uses), with repeats of
    /// clean and of dirty values and values too long to remember.
    #[test]
    fn remembered_clean_scans_find_and_write_what_scans_do() {
        let e = engine(true);
        let values: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| match i % 6 {
                0 => b"stable, no change".to_vec(),
                1 => b"3617915188".to_vec(),
                2 => b"call 217-555-0143 re refill".to_vec(),
                3 => format!("unique remark {i}").into_bytes(),
                4 => format!("{} then seen by Dr. Smith", "x".repeat(50)).into_bytes(),
                _ => b"labs drawn, results pending".to_vec(),
            })
            .collect();
        // A cell without a name (past the end of a CSV header) between the two: the same
        // value found in `fax` is clean there, and must not be remembered clean for `fax`.
        let names: [Option<Arc<str>>; 3] =
            [Some(Arc::from("fax")), None, Some(Arc::from("comment"))];
        let run = |on: bool| {
            let mut cells = Cells::new(&e);
            cells.clean = CleanCells::new(on);
            let place = |_| (0, 0, 0);
            let opts = RunOptions::default();
            let mut log = Vec::new();
            for (row, v) in values.iter().enumerate() {
                for name in &names {
                    let c = ColumnClass::scanned(name.as_deref().unwrap_or(""));
                    let mut found = Vec::new();
                    let changed = cells
                        .cell(
                            v,
                            &c,
                            name.as_ref(),
                            row as u64 + 1,
                            &place,
                            &opts,
                            true,
                            &mut |l| {
                                found.push((l.entity, l.rule, l.row));
                                Ok(())
                            },
                        )
                        .unwrap();
                    let out = if changed {
                        cells.value.clone()
                    } else {
                        v.clone()
                    };
                    log.push((name.as_deref().unwrap_or("").to_string(), found, out));
                }
            }
            log
        };
        let (on, off) = (run(true), run(false));
        assert_eq!(on.len(), off.len());
        for (a, b) in on.iter().zip(&off) {
            assert_eq!(a, b);
        }
        // The columns do differ on one value, so the memo must keep them apart.
        let found = |name: &str| {
            on.iter()
                .filter(|(n, f, _)| n == name && !f.is_empty())
                .count()
        };
        assert_ne!(
            found("fax"),
            found("comment"),
            "no context-dependent value in the test"
        );
    }
}
