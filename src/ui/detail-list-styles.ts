/**
 * The look of a slide's details as a definition list (label column, value
 * column), shared by the slide's details (slide-info.ts) and its site and
 * stain (slide-descriptors.ts), so the two read as one table.
 */
import { css } from 'lit';

export const detailListStyles = css`
    dl {
      display: grid;
      grid-template-columns: auto 1fr;
      gap: 2px 8px;
      margin: 4px 0;
    }
    dt {
      color: #666;
    }
    dd {
      margin: 0;
      word-break: break-word;
    }
`;
