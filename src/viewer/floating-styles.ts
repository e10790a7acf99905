/**
 * The look of the floating views beside the panel (history, measurements):
 * a card below the viewer's toolbar with a header (title, actions, close)
 * and a scrolling body. Each view sets only its own position and width.
 */
import { css } from 'lit';

export const floatingStyles = css`
  :host {
    position: fixed;
    /* below the viewer's toolbar (magnification presets), left of the panel (its width: panel-layout.ts) */
    top: 52px;
    right: calc(var(--panel-width, 250px) + 20px);
    z-index: 20;
    max-height: calc(100vh - 60px);
    display: flex;
    flex-direction: column;
    background: #fff;
    color: #1d1d1f;
    font: 13px/1.35 system-ui, sans-serif;
    border: 1px solid #b8b8c0;
    border-radius: 6px;
    box-shadow: 0 6px 24px rgba(0, 0, 0, 0.25);
  }
  header {
    display: flex;
    align-items: center;
    gap: 8px;
    padding: 8px 10px;
    border-bottom: 1px solid #ddd;
  }
  header h2 {
    font-size: 14px;
    margin: 0;
    flex: 1;
  }
  .body {
    overflow: auto;
    padding: 6px 10px 10px;
  }
`;
