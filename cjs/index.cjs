// metaheac is an ES module only, deliberately: parts of its graph (the report's chart
// library) use top-level await, which require() cannot load even where Node has require(esm).
// From CommonJS, load it with import(): `const { loadConfig } = await import('metaheac');`
throw Object.assign(new Error("metaheac is an ES module: load it with `await import('metaheac')` (require() is not supported)"), { code: 'ERR_REQUIRE_ESM' });
