import { readFileSync } from 'node:fs';
import { createInstance, type i18n as I18n } from 'i18next';
import type { InventoryReport, ReportExportFormat, ReportLine } from './report.types.js';

/** Locale of every export (CONVENTIONS "Names": what a shop owner reads is es-MX). */
export const REPORT_LOCALE = 'es-MX';

/** Time zone used when a store's zone is not one the runtime knows (DESIGN.md "Data": the default). */
const FALLBACK_TIME_ZONE = 'America/Mexico_City';

function loadResource(): Record<string, unknown> {
  const url = new URL(`./i18n/${REPORT_LOCALE}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

let instance: I18n | undefined;

function i18n(): I18n {
  if (!instance) {
    const created = createInstance();
    void created.init({
      lng: REPORT_LOCALE,
      fallbackLng: false,
      initAsync: false,
      resources: { [REPORT_LOCALE]: { translation: loadResource() } },
      // Exports are not HTML; each renderer escapes for its own format.
      interpolation: { escapeValue: false },
      missingInterpolationHandler: (_text, match: RegExpExecArray) => {
        throw new Error(`report text uses {{${match[1]}}}, which was not given`);
      },
    });
    instance = created;
  }
  return instance;
}

/**
 * The es-MX text of `key` from `i18n/es-MX.json`, with `{{name}}` placeholders filled.
 *
 * @throws Error when the key is missing (a broken resource must not produce an export with
 *   bare keys in it) or a placeholder has no value.
 */
export function reportText(key: string, vars?: Record<string, string | number>): string {
  const t = i18n();
  if (!t.exists(key)) throw new Error(`report text ${key} is missing from i18n/${REPORT_LOCALE}.json`);
  return t.t(key, vars ?? {});
}

/** The label of a value under `group` (`state.READY` → "Listo"), or the value itself when there is none. */
export function reportLabel(group: string, value: string | null | undefined): string {
  if (!value) return '';
  const key = `${group}.${value}`;
  return i18n().exists(key) ? i18n().t(key) : value;
}

/** "Sí" / "No". */
export function yesNo(value: boolean): string {
  return reportText(value ? 'value.yes' : 'value.no');
}

/** `timeZone` when the runtime knows it, else America/Mexico_City. */
export function safeTimeZone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return timeZone;
  } catch {
    return FALLBACK_TIME_ZONE;
  }
}

/** A date and time in the store's time zone, es-MX long form: "15 de enero de 2025, 10:30 a.m.". */
export function formatStoreDateTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat(REPORT_LOCALE, {
    dateStyle: 'long',
    timeStyle: 'short',
    timeZone: safeTimeZone(timeZone),
  }).format(date);
}

/**
 * The wall-clock time of `date` in `timeZone`, as a Date whose UTC fields hold it. Spreadsheet
 * cells have no time zone: exceljs writes a Date's UTC fields, so this shows the store's local
 * time in Excel.
 */
export function storeWallClock(date: Date, timeZone: string): Date {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: safeTimeZone(timeZone),
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  return new Date(Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')));
}

/** `yyyy-mm-dd` of `date` in `timeZone` (file names). */
export function storeDay(date: Date, timeZone: string): string {
  return storeWallClock(date, timeZone).toISOString().slice(0, 10);
}

/** An integer with es-MX grouping: 12,345. */
export function formatInteger(value: number): string {
  return new Intl.NumberFormat(REPORT_LOCALE, { maximumFractionDigits: 0 }).format(value);
}

/** Confidence 0–1 as a whole percentage 0–100 (clamped). */
export function confidencePercent(confidence: number): number {
  if (!Number.isFinite(confidence)) return 0;
  return Math.round(Math.min(Math.max(confidence, 0), 1) * 100);
}

/** The one status word of a line: Incorrecto > Por revisar > Corregido > Correcto. */
export function lineStatus(line: ReportLine): string {
  if (line.markedWrong) return reportText('lineStatus.wrong');
  if (line.needsReview) return reportText('lineStatus.review');
  if (line.corrected) return reportText('lineStatus.corrected');
  return reportText('lineStatus.ok');
}

/**
 * The download name of an export: `inventario-<store>-<yyyy-mm-dd>.<ext>`, the store name
 * folded to ASCII letters, digits and hyphens (safe in a Content-Disposition header), the date
 * the inventory was taken in the store's time zone.
 */
export function reportFileName(report: InventoryReport, format: ReportExportFormat): string {
  const slug =
    report.store.name
      .normalize('NFD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'tienda';
  const day = storeDay(report.session.readyAt ?? report.session.createdAt, report.store.timeZone);
  return `${reportText('fileName')}-${slug}-${day}.${format}`;
}
