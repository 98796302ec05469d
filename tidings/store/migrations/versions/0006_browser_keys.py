"""browser keys: the origins a browser (write-only) key may be used from; stored Segment spec
event names renamed to the one vocabulary (tidings/domain/event_names.py, frozen here)

Revision ID: 0006_browser_keys
Revises: 0005_experiments
Create Date: 2026-12-06 22:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006_browser_keys'
down_revision = '0005_experiments'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
#: the spec names as of this revision (later changes to the table need their own migration)
SPEC_NAMES = [
    ('Products Searched', 'products.searched'),
    ('Product List Viewed', 'product_list.viewed'),
    ('Product List Filtered', 'product_list.filtered'),
    ('Promotion Viewed', 'promotion.viewed'),
    ('Promotion Clicked', 'promotion.clicked'),
    ('Product Clicked', 'product.clicked'),
    ('Product Viewed', 'product.viewed'),
    ('Product Added', 'product.added'),
    ('Product Removed', 'product.removed'),
    ('Product Reviewed', 'product.reviewed'),
    ('Product Shared', 'product.shared'),
    ('Product Added to Wishlist', 'wishlist.product_added'),
    ('Product Removed from Wishlist', 'wishlist.product_removed'),
    ('Wishlist Product Added to Cart', 'wishlist.product_added_to_cart'),
    ('Cart Viewed', 'cart.viewed'),
    ('Cart Shared', 'cart.shared'),
    ('Cart Abandoned', 'cart.abandoned'),
    ('Checkout Started', 'checkout.started'),
    ('Checkout Step Viewed', 'checkout.step_viewed'),
    ('Checkout Step Completed', 'checkout.step_completed'),
    ('Payment Info Entered', 'payment_info.entered'),
    ('Coupon Entered', 'coupon.entered'),
    ('Coupon Applied', 'coupon.applied'),
    ('Coupon Denied', 'coupon.denied'),
    ('Coupon Removed', 'coupon.removed'),
    ('Order Updated', 'order.updated'),
    ('Order Completed', 'order.completed'),
    ('Order Refunded', 'order.refunded'),
    ('Order Cancelled', 'order.cancelled'),
]


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origins', JSON, nullable=True))
    rename = sa.text("UPDATE events SET name = :new WHERE name = :old")
    for old, new in SPEC_NAMES:
        op.execute(rename.bindparams(old=old, new=new))


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('origins')
