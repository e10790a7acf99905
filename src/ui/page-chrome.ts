/**
 * The look of the app's standalone pages (the audit browser, the inbox,
 * the corrections report):
 * one home for the host's font and padding and the header row with its
 * title, so the pages stay alike.
 */
import { css } from 'lit';

export const pageChrome = css`
  :host {
    display: block;
    font: 14px/1.4 system-ui, sans-serif;
    color: #1d2430;
    padding: 12px 20px;
  }
  header {
    display: flex;
    align-items: center;
    gap: 12px;
    border-bottom: 1px solid #d5dae1;
    padding-bottom: 8px;
  }
  h1 {
    font-size: 18px;
    margin: 0;
    flex: 1;
  }
`;
