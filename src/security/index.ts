/** rxon security: public entry point of this room. */
export {};
