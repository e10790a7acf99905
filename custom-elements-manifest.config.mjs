/**
 * @custom-elements-manifest/analyzer: the manifest of <wsi-viewer>, written
 * to dist/custom-elements.json by `npm run build` (next to wsi-viewer.js, for
 * portals and IDEs). Lit's internal reactive state (`state: true`) is not
 * part of the element's contract, so it is left out of the manifest.
 */
function leaveOutLitState() {
  /** class name → its `state: true` properties */
  const state = new Map();
  return {
    name: 'leave-out-lit-state',
    // the analyzer's own TypeScript (its syntax kinds), not the project's
    analyzePhase({ ts, node }) {
      if (!ts.isClassDeclaration(node) || !node.name) return;
      const names = new Set();
      state.set(node.name.getText(), names);
      for (const member of node.members) {
        if (!ts.isPropertyDeclaration(member) || member.name.getText() !== 'properties') continue;
        if (!member.initializer || !ts.isObjectLiteralExpression(member.initializer)) continue;
        for (const p of member.initializer.properties) {
          if (!ts.isPropertyAssignment(p) || !ts.isObjectLiteralExpression(p.initializer)) continue;
          const isState = p.initializer.properties.some((q) => ts.isPropertyAssignment(q) && q.name.getText() === 'state' && q.initializer.kind === ts.SyntaxKind.TrueKeyword);
          if (isState) names.add(p.name.getText());
        }
      }
    },
    packageLinkPhase({ customElementsManifest }) {
      for (const mod of customElementsManifest.modules ?? []) {
        for (const cls of mod.declarations ?? []) {
          const names = state.get(cls.name);
          if (!names) continue;
          cls.attributes = (cls.attributes ?? []).filter((a) => !names.has(a.fieldName ?? a.name));
          cls.members = (cls.members ?? []).filter((m) => !names.has(m.name));
        }
      }
    },
  };
}

export default {
  globs: ['src/viewer/wsi-viewer.ts'],
  outdir: 'dist',
  litelement: true,
  plugins: [leaveOutLitState()],
};
