/** rxon transport: public entry point of this room. */
export {};
