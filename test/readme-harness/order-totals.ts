/**
 * Harness for the README's handler snippet (lambda/order-totals/index.ts in the user's project): the
 * snippet test replaces the `// README fragment` line below with it. It declares the user's own code the
 * snippet calls; the snippet brings its own imports.
 */
// README fragment

/** The user's own write (e.g. a DynamoDB UpdateItem ADD); only its signature matters here. */
async function addToTotal(customerId: string, amount: number): Promise<void> {
  void customerId;
  void amount;
}
