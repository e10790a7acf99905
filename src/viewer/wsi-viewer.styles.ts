/**
 * The look of <wsi-viewer>, apart from its logic. The colours and the font a
 * portal would theme are CSS custom properties (each with its default here);
 * they inherit into the side panels, whose own ones are in panel-styles.ts.
 */
import { css } from 'lit';

export const viewerStyles = css`
  :host {
    display: flex;
    position: relative;
    min-height: 200px;
    background: var(--wsi-viewer-background, #2b2d31);
    color: var(--wsi-viewer-color, #f1f1f1);
    font: var(--wsi-viewer-font, 13px/1.3 system-ui, sans-serif);
    outline: none;
  }
  :host(:focus-visible) {
    box-shadow: inset 0 0 0 2px var(--wsi-viewer-accent, #4c8bf5);
  }
  .stage {
    position: relative;
    flex: 1;
    min-width: 0;
  }
  .osd {
    position: absolute;
    inset: 0;
  }
  .hud {
    position: absolute;
    left: 8px;
    top: 8px;
    display: flex;
    gap: 6px;
    align-items: center;
    flex-wrap: wrap;
    pointer-events: none;
  }
  .hud > * {
    pointer-events: auto;
  }
  .mag {
    background: var(--wsi-viewer-hud-background, rgba(0, 0, 0, 0.65));
    padding: 4px 8px;
    border-radius: 4px;
    min-width: 4.5em;
    text-align: center;
    font-variant-numeric: tabular-nums;
  }
  button {
    background: var(--wsi-viewer-hud-background, rgba(0, 0, 0, 0.65));
    color: inherit;
    border: 1px solid rgba(255, 255, 255, 0.25);
    border-radius: 4px;
    padding: 3px 7px;
    font: inherit;
    cursor: pointer;
  }
  button:hover,
  button:focus-visible {
    border-color: #fff;
  }
  /* a preset past the scan's objective: digital zoom */
  button.digital {
    border-style: dashed;
    font-style: italic;
    opacity: 0.8;
  }
  button.digital::after {
    content: ' digital';
    font-size: 10px;
  }
  .scalebar {
    position: absolute;
    left: 8px;
    bottom: 10px;
    background: var(--wsi-viewer-scalebar-background, rgba(255, 255, 255, 0.85));
    color: var(--wsi-viewer-scalebar-color, #111);
    padding: 3px 6px 4px;
    border-radius: 3px;
    font-variant-numeric: tabular-nums;
  }
  .scalebar .bar {
    box-sizing: border-box;
    height: 5px;
    border: 2px solid var(--wsi-viewer-scalebar-color, #111);
    border-top: none;
    margin-top: 2px;
  }
  .notice,
  .error {
    position: absolute;
    left: 50%;
    top: 50%;
    transform: translate(-50%, -50%);
    background: rgba(0, 0, 0, 0.75);
    padding: 12px 16px;
    border-radius: 6px;
    max-width: 70%;
  }
  .error {
    border: 1px solid var(--wsi-viewer-error, #e5534b);
  }
  .tilewarn {
    position: absolute;
    right: 8px;
    top: 8px;
    background: rgba(120, 60, 0, 0.85);
    padding: 4px 8px;
    border-radius: 4px;
  }
  .help {
    position: absolute;
    right: 8px;
    top: 40px;
    background: rgba(0, 0, 0, 0.85);
    padding: 10px 14px;
    border-radius: 6px;
    /* fits a 768-px-high screen: the list scrolls */
    max-height: calc(100% - 56px);
    width: min(440px, calc(100% - 16px));
    overflow: auto;
    box-sizing: border-box;
  }
  .help h4:first-child {
    margin-top: 0;
  }
  .help kbd {
    display: inline-block;
    min-width: 1.4em;
    text-align: center;
    border: 1px solid #888;
    border-radius: 3px;
    padding: 0 3px;
    margin-right: 6px;
  }
  .help h4 {
    margin: 6px 0 2px;
    font-size: 11px;
    text-transform: uppercase;
    letter-spacing: 0.04em;
    opacity: 0.7;
  }
`;
