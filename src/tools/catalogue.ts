/**
 * Every tool and shortcut of the app, one line each: loading a file
 * registers what it defines (src/tools/registry.ts). The order is the order
 * of the buttons and of the help, and the order keys are tried in.
 */
import './select-tool.js';
import './polygon-tool.js';
import './freehand-tool.js';
import './box-tools.js';
import './point-tool.js';
import './ruler-tool.js';
import './brush-tool.js';
import './flood-tool.js';
import './paint-actions.js';
import './edit-actions.js';
import './count-points-tool.js';
import './review-tool.js';
import './triage-tool.js';
