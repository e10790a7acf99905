/** Styles shared by the side panels (annotations, mask): headings, buttons, grids, status lines; the accent is the --wsi-panel-accent custom property. */
import { css } from 'lit';

export const panelStyles = css`
  h3 {
    margin: 4px 0;
    font-size: 12px;
    text-transform: uppercase;
    letter-spacing: 0.04em;
    color: #555;
  }
  .grid {
    display: grid;
    grid-template-columns: 1fr 1fr;
    gap: 4px;
  }
  button {
    font: inherit;
    padding: 4px 6px;
    border: 1px solid #c4c4cc;
    border-radius: 4px;
    background: #fff;
    cursor: pointer;
    text-align: left;
  }
  button[aria-pressed='true'] {
    background: #dbe5fd;
    border-color: var(--wsi-panel-accent, #4c8bf5);
  }
  button .icon {
    display: inline-block;
    width: 1.3em;
  }
  button:disabled {
    opacity: 0.5;
    cursor: default;
  }
  kbd {
    float: right;
    color: #888;
    font-size: 11px;
  }
  .swatch {
    display: inline-block;
    width: 10px;
    height: 10px;
    border-radius: 2px;
    margin-right: 6px;
    vertical-align: -1px;
  }
  .status {
    padding: 6px 8px;
    border-radius: 4px;
    background: #e8f5e9;
  }
  .status.warn {
    background: #fff3e0;
  }
  .status.bad {
    background: #fdecea;
  }
  label {
    display: block;
    margin: 4px 0 2px;
  }
  input[type='text'],
  textarea,
  select {
    width: 100%;
    box-sizing: border-box;
    font: inherit;
  }
  .conflict {
    border: 1px solid #e5534b;
    border-radius: 6px;
    padding: 8px;
    background: #fff;
  }
  .conflict pre {
    white-space: pre-wrap;
    font-size: 11px;
    margin: 4px 0;
  }
`;
