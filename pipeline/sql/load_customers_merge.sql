DELETE FROM plan_history WHERE customer_id IN (
    SELECT customer_id FROM checked WHERE problem IS NULL
);
INSERT INTO plan_history
SELECT customer_id, tier, valid_from, valid_to, $load_id FROM checked WHERE problem IS NULL;
DELETE FROM customers WHERE customer_id IN (
    SELECT customer_id FROM checked WHERE problem IS NULL
);
INSERT INTO customers
SELECT customer_id, arg_max(name, valid_from), $load_id FROM checked
WHERE problem IS NULL GROUP BY customer_id;
