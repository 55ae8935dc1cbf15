/** rxon worker: public entry point of this room. */
export {};
