// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SmartWallet} from "./SmartWallet.sol";

/// @notice Deploys `SmartWallet`s with CREATE2, so a wallet's address is known (and can
/// sign, through ERC-6492) before it exists.
contract WalletFactory {
    event WalletDeployed(address indexed wallet, address indexed owner, bytes32 salt);

    /// Deploys the wallet, or returns it if it already exists (as real factories do).
    function deploy(address owner, bytes32 salt) external returns (address wallet) {
        wallet = walletAddress(owner, salt);
        if (wallet.code.length == 0) {
            new SmartWallet{salt: salt}(owner);
            emit WalletDeployed(wallet, owner, salt);
        }
    }

    /// The counterfactual address of `owner`'s wallet for `salt`.
    function walletAddress(address owner, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(SmartWallet).creationCode, abi.encode(owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }
}
