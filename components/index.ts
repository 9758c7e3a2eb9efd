export * from "./appImage";
export * from "./appService";
export * from "./destroyGuard";
export * from "./lernmanagerStack";
export * from "./scheduler";
export * from "./storage";
export * from "./webServer";
