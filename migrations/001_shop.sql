-- Demo schema: a small shop. Exercises the type mapping the pipeline must carry exactly:
-- numeric money, timestamps with zones, jsonb, arrays, an enum, and a large (TOASTed) text column.
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');

CREATE TABLE customers (
  id          bigserial PRIMARY KEY,
  email       text NOT NULL UNIQUE,
  full_name   text NOT NULL,
  tags        text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  sku         text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,           -- large, compressible-resistant text: stored out of line (TOAST)
  price       numeric(12, 2) NOT NULL,
  attributes  jsonb NOT NULL DEFAULT '{}',
  updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE products ALTER COLUMN description SET STORAGE EXTERNAL;

CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  status      order_status NOT NULL DEFAULT 'pending',
  total       numeric(14, 2) NOT NULL DEFAULT 0,
  placed_at   timestamptz NOT NULL DEFAULT now(),
  note        text
);

CREATE TABLE order_items (
  order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no     int NOT NULL,
  sku         text NOT NULL REFERENCES products (sku) ON UPDATE CASCADE,
  quantity    int NOT NULL CHECK (quantity > 0),
  unit_price  numeric(12, 2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);

-- The cache sink derives keys from the before image too (customer:email:{email},
-- customer:{customer_id}:orders), and a primary-key update of a product must carry its TOASTed
-- description to the new key. Postgres logs full old rows only with REPLICA IDENTITY FULL
-- (as with Debezium, `before` holds just the key columns otherwise).
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE products REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
