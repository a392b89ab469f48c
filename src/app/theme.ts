import { useSyncExternalStore } from 'react';
import type { ThemeChoice } from './store';

const KEY = 'dpo-studio-theme';
const media = () => window.matchMedia('(prefers-color-scheme: dark)');

export function savedTheme(): ThemeChoice {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** The choice goes on <html data-theme>; 'system' leaves the stylesheet to prefers-color-scheme. */
export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem(KEY);
  } else {
    document.documentElement.dataset.theme = choice;
    localStorage.setItem(KEY, choice);
  }
}

function subscribe(onChange: () => void): () => void {
  const m = media();
  m.addEventListener('change', onChange);
  return () => m.removeEventListener('change', onChange);
}

/** Light or dark as shown now: charts need concrete colours (SVG attributes do not take CSS variables everywhere). */
export function useResolvedTheme(choice: ThemeChoice): 'light' | 'dark' {
  const systemDark = useSyncExternalStore(subscribe, () => media().matches);
  return choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
}
