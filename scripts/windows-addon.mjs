// test:windows preload (after @oxc-node/core/register, whose loader also honours
// NAPI_RS_NATIVE_LIBRARY_PATH and must keep loading its own binary): from here on this
// package's generated loader loads the wine build named by PROCESS_WRITER_TEST_ADDON.
if (process.env.PROCESS_WRITER_TEST_ADDON) process.env.NAPI_RS_NATIVE_LIBRARY_PATH = process.env.PROCESS_WRITER_TEST_ADDON
