-- A finalized or void invoice (or credit note) is frozen: whoever writes, the database refuses
-- to change what it says or to delete it, and to touch its lines and taxes. What may change
-- after issue is its life: voided, sent, paid (billing.models.invoices.AFTER_ISSUE). Every
-- document is born a draft, so that its lines are written before it is frozen.
CREATE OR REPLACE FUNCTION billing_invoice_immutable() RETURNS trigger AS $$
DECLARE
    after_issue text[] := ARRAY['status', 'voided_at', 'void_reason', 'sent_at', 'paid_on',
                                'paid_amount', 'updated_at'];
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'a % is created as a draft, then finalized', NEW.kind
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% % is %: it cannot be deleted', OLD.kind, OLD.number, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - after_issue) IS DISTINCT FROM (to_jsonb(OLD) - after_issue)
       OR NEW.status = 'draft' OR (OLD.status = 'void' AND NEW.status <> 'void') THEN
        RAISE EXCEPTION '% % is %: it cannot be changed (issue a credit note, or void it)',
            OLD.kind, OLD.number, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS billing_invoice_immutable ON billing_invoice;
CREATE TRIGGER billing_invoice_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_immutable();

CREATE OR REPLACE FUNCTION billing_invoice_part_immutable() RETURNS trigger AS $$
DECLARE
    frozen text;
BEGIN
    SELECT number INTO frozen FROM billing_invoice
     WHERE status <> 'draft'
       AND id IN (CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.invoice_id END,
                  CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.invoice_id END)
     LIMIT 1;
    IF frozen IS NOT NULL THEN
        RAISE EXCEPTION 'the lines and taxes of % cannot change: it is issued', frozen
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS billing_invoiceline_immutable ON billing_invoiceline;
CREATE TRIGGER billing_invoiceline_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_part_immutable();

DROP TRIGGER IF EXISTS billing_invoicetax_immutable ON billing_invoicetax;
CREATE TRIGGER billing_invoicetax_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON billing_invoicetax
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_part_immutable();
