interface Props {
  /** What is paged, for screen readers ("issues", "rows"). */
  label: string;
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** Previous / next and where we are: "41–60 of 1,204". */
export function Pager({ label, page, pageSize, total, onPage }: Props) {
  const pages = pageCount(total, pageSize);
  if (total <= pageSize) return null;
  const first = page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" className="btn small" onClick={() => onPage(0)} disabled={page === 0} aria-label={`first page of ${label}`}>
        «
      </button>
      <button
        type="button"
        className="btn small"
        onClick={() => onPage(page - 1)}
        disabled={page === 0}
        aria-label={`previous page of ${label}`}
      >
        ‹ Prev
      </button>
      <span className="pager-where">
        {first.toLocaleString('en-US')}–{last.toLocaleString('en-US')} of {total.toLocaleString('en-US')}
      </span>
      <button
        type="button"
        className="btn small"
        onClick={() => onPage(page + 1)}
        disabled={page >= pages - 1}
        aria-label={`next page of ${label}`}
      >
        Next ›
      </button>
      <button
        type="button"
        className="btn small"
        onClick={() => onPage(pages - 1)}
        disabled={page >= pages - 1}
        aria-label={`last page of ${label}`}
      >
        »
      </button>
    </nav>
  );
}
